/// A model that is not in the zoo, declared in a few lines: FEFM's field-pair interactions, a cross network over
/// the raw fields, and inner products over raw plus FGCNN-generated fields, all sharing one embedding table.
/// Trained on the bundled Adult data beside DeepFM:  dotnet run --project examples/CrossFefm -c Release
module CrossFefm

open System.IO
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models

// ---- the new variant (13 lines) ---------------------------------------------------------------------------------
let crossFefm k =
    let e = embed k

    let generator =
        { ConvGenerateOptions.paper with
            Channels = [ 6; 8 ]
            KernelHeights = [ 3; 3 ]
            PoolSizes = [ 2; 2 ]
            NewMaps = [ 2; 2 ] }

    let all = concatFields [ e; convGenerate generator (named "generation" (embed k)) ]
    sum [ linear; fefm e |> reduceSum; concat [ cross VectorCross 2 (dnnInput e); innerProduct all ] |> mlp [ 64; 32 ] ]
// -----------------------------------------------------------------------------------------------------------------

let rec private repoRoot (dir: DirectoryInfo) =
    if File.Exists(Path.Combine(dir.FullName, "CtrDsl.sln")) then
        dir.FullName
    else
        match dir.Parent with
        | null -> failwith "run this example from inside the CtrDsl repository"
        | parent -> repoRoot parent

[<EntryPoint>]
let main _ =
    let root = repoRoot (DirectoryInfo(System.AppContext.BaseDirectory))
    let schema = Schema.SchemaYaml.load (Path.Combine(root, "examples/schemas/adult.yaml"))

    let sources =
        DataSources.Files(Path.Combine(root, "data/adult/adult_train.csv.gz"), null, Path.Combine(root, "data/adult/adult_test.csv.gz"))

    use data = Dataset.Prepare(schema, sources, PrepareOptions(CacheDir = Path.Combine(Path.GetTempPath(), "ctrdsl-adult")))
    let features = Features.ofFeatureSpace data.Features
    let options = { FitOptions.defaults with Epochs = 3; BatchSize = 256; Seed = 7 }

    for name, model in
        [ "CrossFEFM", crossFefm 8
          "DeepFM", DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Embedding.Dim = 8; Mlp.Hidden = [ 64; 32 ] } ] do
        let built = Fit.build options name features model
        let result = Fit.run built data options FitReporter.silent
        printfn $"{name, -10} {built.ParameterCount, 9:N0} parameters  test AUC {result.Test.Value.Auc:F4}  logloss {result.Test.Value.LogLoss:F4}"

    0
