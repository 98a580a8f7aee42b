namespace CtrDsl.Dsl

/// Every setting of a training run: the YAML `training:` section, the `ctr train` flags and the library's `Fit.run`
/// read this one record. The policies that act at evaluation points (early stopping, reduce-on-plateau) are built
/// from it by `Policies.standard`.
type FitOptions =
    {
        Epochs: int
        BatchSize: int
        EvalBatchSize: int
        Optimizer: OptimizerKind
        /// Learning rate (FTRL: alpha).
        LearningRate: float
        /// What the output is trained against: BCE from logits or MSE.
        Objective: Objective
        /// Seeds the initial values, dropout, the shuffle and the valid split.
        Seed: int
        /// Shuffle the training rows each epoch with Seed; false keeps file order.
        Shuffle: bool
        /// Rows permuted together when shuffled: the cache's blocks are visited in a random order and each run of
        /// ShuffleWindowRows / block rows of them (at least one) is read in one random order of all its rows, copied
        /// into memory once (`BatchReader`). The default, 262,144, permutes a split of up to that many rows whole.
        ShuffleWindowRows: int
        /// Evaluations without improvement before stopping; 0 never stops early.
        Patience: int
        Monitor: Monitor
        /// Maximum global gradient norm; 0 disables clipping.
        ClipNorm: float
        /// Evaluations without improvement before the learning rate is multiplied by ReduceLrFactor; 0 disables.
        ReduceLrPatience: int
        ReduceLrFactor: float
        MinLr: float
        /// Also evaluate (and checkpoint) every N steps; 0 evaluates at epoch ends only.
        EvalEverySteps: int
        /// Compute and parsing threads; 0 uses every core.
        Threads: int
        Device: Device
        /// Where data-parallel ranks keep the embedding tables: None (auto) shards an id space of 1M rows or more.
        Tables: TablePlacement option
        /// How data-parallel ranks exchange the dense gradients: buckets overlapped with the backward pass (1 MiB) in
        /// float32 by default; bfloat16 halves the bytes (`GradientExchange`).
        Exchange: CtrDsl.Distributed.ExchangeOptions
    }

module FitOptions =
    /// Two epochs of Adam 1e-3 at batch 1024, shuffled with seed 2024, early stopping after 2 evaluations without
    /// AUC improvement and the learning rate cut tenfold after 1, on the CPU.
    let defaults =
        { Epochs = 2
          BatchSize = 1024
          EvalBatchSize = 8192
          Optimizer = Adam
          LearningRate = 1e-3
          Objective = BinaryClassification
          Seed = 2024
          Shuffle = true
          ShuffleWindowRows = CtrDsl.Data.BatchReader.DefaultShuffleWindowRows
          Patience = 2
          Monitor = Auc
          ClipNorm = 0.0
          ReduceLrPatience = 1
          ReduceLrFactor = 0.1
          MinLr = 1e-6
          EvalEverySteps = 0
          Threads = 0
          Device = Cpu
          Tables = None
          Exchange = CtrDsl.Distributed.ExchangeOptions.Default }

    /// The learning rates a run accepts, in flags and YAML alike (a stored run is always read back).
    let learningRateRange = 1e-12, 1e4
