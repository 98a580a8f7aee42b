/// Shared pieces: the bundled Adult data prepared once, random and real encoded rows, zoo models with perturbed
/// parameters, and ONNX Runtime's and our scores of the same rows.
module CtrDsl.Onnx.Tests.Support

open System
open System.IO
open CtrDsl.Cli
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Onnx
open Google.Protobuf
open Microsoft.ML.OnnxRuntime
open Microsoft.ML.OnnxRuntime.Tensors
open Expecto
open Xunit

// The tests share the compute pool's thread count; one at a time keeps them deterministic and light.
[<assembly: CollectionBehavior(DisableTestParallelization = true)>]
do ()

let tempDir (name: string) =
    let d = Path.Combine(Path.GetTempPath(), $"""ctrdsl-onnx-%s{name}-%s{Guid.NewGuid().ToString("N")}""")
    Directory.CreateDirectory d |> ignore
    d

/// The bundled Adult data (copied beside the test assembly with the CLI) prepared once: its features and test rows.
let adult =
    lazy
        (let schemaFile = DataLoad.bundled "schemas/adult.yaml"
         let schema = DataLoad.parseSchema schemaFile (File.ReadAllText schemaFile)
         let options = PrepareOptions(CacheDir = tempDir "adult", Threads = 1)
         Dataset.Prepare(schema, DataSources.Files(DataLoad.adultTrain (), null, DataLoad.adultTest ()), options))

/// Encoded rows, `ids` [rows; idFields] and `dense` [rows; denseFields].
type Rows = { Count: int; Ids: int[]; Dense: float32[] }

/// Uniform random ids inside each field's vocabulary and standard-normal numbers (seeded).
let randomRows (features: FeatureSpace) (seed: int) (count: int) =
    let rng = Random seed
    let idFields = features.Schema.IdFields |> Seq.map (fun f -> features.VocabularyOf f.Name) |> Seq.toArray
    let nDense = Seq.length features.Schema.DenseFields

    let normal () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble()) |> float32

    { Count = count
      Ids = Array.init (count * idFields.Length) (fun k -> let v = idFields[k % idFields.Length] in v.Offset + rng.Next v.Size)
      Dense = Array.init (count * nDense) (fun _ -> normal ()) }

/// The first `count` rows of the Adult test split, as `ctr predict` encodes them.
let realRows (count: int) =
    let ds = adult.Force()
    let batch = Batch.Plan(ds.Features.Schema, count)
    let reader = BatchReader(ds.Test)
    Expect.isTrue (reader.Next batch) "reader.Next batch"
    { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }

/// Generated rows (`lines`, the header first) written to a temporary CSV and prepared under `schema` (YAML) on one thread.
let prepareGenerated (name: string) (schema: string) (lines: string[]) =
    let dir = tempDir name
    let csv = Path.Combine(dir, "rows.csv")
    File.WriteAllLines(csv, lines)
    let parsed = DataLoad.parseSchema $"%s{name}.yaml" schema
    Dataset.Prepare(parsed, DataSources.Files(csv, null, null), PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1))

/// Overwrites an encoded batch's fields in place with seeded random rows: uniform ids inside each id field's
/// vocabulary and numbers uniform in [−scale, scale).
let randomizeFields (features: FeatureSpace) (rng: Random) (scale: float) (batch: Batch) =
    let vocabularies = features.Schema.IdFields |> Seq.map (fun f -> features.VocabularyOf f.Name) |> Seq.toArray

    for i in 0 .. batch.Rows * vocabularies.Length - 1 do
        let v = vocabularies[i % vocabularies.Length]
        batch.Ids[i] <- v.Offset + rng.Next v.Size

    for i in 0 .. batch.Rows * batch.DenseFieldCount - 1 do
        batch.Dense[i] <- float32 ((rng.NextDouble() * 2.0 - 1.0) * scale)

/// Adds seeded noise to every parameter, so that zero-initialised biases and pair matrices are exercised too: ±0.5
/// to the embedding tables (their small initial rows leave FiBiNET's bilinear products, and so its scores, nearly
/// constant), ±0.05 elsewhere. Running variances stay positive. The other non-trainable states are constants of the
/// graph (the −1 that turns a mask into a −1e9 penalty, Dice's fixed scale and shift) and stay as built: noise on the
/// −1 would add ±5e7 to every attention logit and leave the softmax uniform in both runtimes.
let perturb (seed: int) (tableRows: int) (m: BuiltModel) =
    let rng = Random seed

    for p in m.Parameters |> Seq.filter (fun p -> p.Trainable || p.Name.Contains "running_") do
        let v = p.Value
        let noise = if p.Shape[0] = tableRows then 1.0 else 0.1

        for i in 0 .. v.Length - 1 do
            v[i] <- v[i] + float32 ((rng.NextDouble() - 0.5) * noise)

            if p.Name.EndsWith("running_var", StringComparison.Ordinal) then
                v[i] <- abs v[i] + 0.5f

/// A zoo model with its default settings over the Adult features, parameters perturbed.
/// A zoo model with the given settings over `features`, parameters perturbed with `seed`.
let buildOver (features: FeatureSpace) (seed: int) (entry: Settings.ModelEntry) (settings: (string * Settings.SettingValue) list) =
    let configured =
        match entry.Configure settings with
        | Ok c -> c
        | Error e -> failwith $"%s{entry.Name}: %A{e}"

    let m = Run.buildModel entry configured (Features.ofFeatureSpace features) FitOptions.defaults
    perturb seed features.FeatureCount m
    m

/// A zoo model with the given settings over the Adult features, parameters perturbed.
let build (entry: Settings.ModelEntry) (settings: (string * Settings.SettingValue) list) = buildOver (adult.Force().Features) 17 entry settings

let isLogit (m: BuiltModel) = m.Objective = BinaryClassification

/// ONNX Runtime's outputs by name for the rows, on one thread; `sequences` holds each multi-valued field's padded ids
/// by name.
let ortOutputs (onnx: byte[]) (rows: Rows) (sequences: Map<string, int[]>) =
    use options = new SessionOptions(IntraOpNumThreads = 1, InterOpNumThreads = 1)
    use session = new InferenceSession(onnx, options)
    let inputs = ResizeArray<NamedOnnxValue>()

    for KeyValue(name, meta) in session.InputMetadata do
        let width = meta.Dimensions[1]

        match name with
        | "ids" -> inputs.Add(NamedOnnxValue.CreateFromTensor(name, DenseTensor<int>(Memory rows.Ids, [| rows.Count; width |])))
        | "dense" -> inputs.Add(NamedOnnxValue.CreateFromTensor(name, DenseTensor<float32>(Memory rows.Dense, [| rows.Count; width |])))
        | name -> inputs.Add(NamedOnnxValue.CreateFromTensor(name, DenseTensor<int>(Memory sequences[name], [| rows.Count; width |])))

    use results = session.Run inputs
    Map [ for r in results -> r.Name, r.AsEnumerable<float32>() |> Seq.toArray ]

/// ONNX Runtime's scores of the rows (the output `score`), on one thread; `sequences` as for `ortOutputs`.
let ortScoresWith (onnx: byte[]) (rows: Rows) (sequences: Map<string, int[]>) = (ortOutputs onnx rows sequences)[OnnxExport.OutputName]

let ortScores (onnx: byte[]) (rows: Rows) = ortScoresWith onnx rows Map.empty

/// Our forward pass (the in-process predictor) on the same rows.
let ourScores (m: BuiltModel) (rows: Rows) =
    use p = Serving.predictor 128 (adult.Force().Features) m
    let scores = Array.zeroCreate<float32> rows.Count
    p.PredictEncoded(ReadOnlySpan rows.Ids, ReadOnlySpan rows.Dense, Span scores)
    scores

let maxAbsDiff (a: float32[]) (b: float32[]) =
    Expect.equal b.Length a.Length "b.Length"
    Array.map2 (fun x y -> abs (x - y)) a b |> Array.max

let spread (a: float32[]) =
    let mean = Array.average a
    sqrt (a |> Array.averageBy (fun x -> (x - mean) * (x - mean)))

/// Runs the real entry point in-process: (exit code, stdout, stderr).
let ctr (args: string list) =
    use out = new StringWriter()
    use err = new StringWriter()
    let code = CtrDsl.Cli.Program.run (Array.ofList args) out err
    code, out.ToString(), err.ToString()

/// Leaves an exported model in the folder CTRDSL_ONNX_DIR names, where .ci/run runs ONNX's own checker over it.
let keepForChecker (name: string) (onnx: byte[]) =
    match Environment.GetEnvironmentVariable "CTRDSL_ONNX_DIR" with
    | null
    | "" -> ()
    | dir -> File.WriteAllBytes(Path.Combine(dir, $"%s{name}.onnx"), onnx)
