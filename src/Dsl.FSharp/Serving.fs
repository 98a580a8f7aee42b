/// In-process scoring of a built model: a `CtrDsl.Serving.Predictor` over its graph.
module CtrDsl.Dsl.Serving

open CtrDsl.Data
open CtrDsl.Serving

/// A predictor for `model` trained on `features`, with a batch plan of `batchSize` rows. The output link follows
/// the model's objective: a sigmoid of the logit for binary classification, the output itself for regression.
/// The predictor shares the model's parameter arrays and is not thread-safe: make one per serving thread.
/// `predictorWith` takes the options (e.g. `SingleRowOnCallingThread`); OutputIsLogit follows the model.
let predictorWith (options: PredictorOptions) (features: FeatureSpace) (model: BuiltModel) : Predictor =
    let options =
        PredictorOptions(
            BatchSize = options.BatchSize,
            OutputIsLogit = model.OutputIsLogit,
            SingleRowOnCallingThread = options.SingleRowOnCallingThread
        )

    new Predictor(model.Graph, model.Output, features, options)

/// `predictorWith` with a batch plan of `batchSize` rows and the other options at their defaults.
let predictor (batchSize: int) (features: FeatureSpace) (model: BuiltModel) : Predictor =
    predictorWith (PredictorOptions(BatchSize = batchSize)) features model

/// A thread-safe scorer for `model`: a `PredictorPool` of `predictorWith options` predictors, made on demand (one
/// per concurrent caller at the peak), that any number of threads may call at once.
let pool (options: PredictorOptions) (features: FeatureSpace) (model: BuiltModel) : PredictorPool =
    new PredictorPool(fun () -> predictorWith options features model)
