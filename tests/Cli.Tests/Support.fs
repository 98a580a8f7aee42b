/// Runs the real entry point in-process on small generated Criteo-format data.
module CtrDsl.Cli.Tests.Support

open System
open System.IO
open System.Text
open System.Text.Json
open CtrDsl.Testing

// The tests train models and share the compute pool's thread count; one at a time keeps them deterministic and light.
[<assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)>]
do ()

type Result = { Code: int; Out: string; Err: string }

let ctr (args: string list) =
    use out = new StringWriter()
    use err = new StringWriter()
    let code = CtrDsl.Cli.Program.run (Array.ofList args) out err
    { Code = code; Out = out.ToString(); Err = err.ToString() }

let json (r: Result) = JsonDocument.Parse(r.Out.Trim()).RootElement

/// A fresh folder under the temp directory.
let tempDir (name: string) =
    let d =
        Path.Combine(Path.GetTempPath(), "ctr-cli-tests", $"%s{name}-%d{Environment.ProcessId}-%s{Guid.NewGuid().ToString().Substring(0, 8)}")

    Directory.CreateDirectory d |> ignore
    d

/// Criteo-format TSV (label, I1..I13, C1..C26) from a seeded RNG with a planted signal: the click probability is
/// sigmoid of a per-value weight of C1 and C2 plus 0.8·(I1 − 2). Some numeric entries are missing.
let criteoRows (seed: int) (rows: int) =
    let rng = Random(seed)
    let weights = Random(7)
    let w1 = Array.init 12 (fun _ -> weights.NextDouble() * 4.0 - 2.0)
    let w2 = Array.init 12 (fun _ -> weights.NextDouble() * 4.0 - 2.0)
    let sb = StringBuilder()

    for _ in 1..rows do
        let c1, c2 = rng.Next 12, rng.Next 12
        let i1 = rng.Next 5
        let z = w1[c1] + w2[c2] + 0.8 * float (i1 - 2)
        let label = if rng.NextDouble() < 1.0 / (1.0 + exp -z) then 1 else 0
        sb.Append(label) |> ignore
        sb.Append('\t').Append(i1) |> ignore

        for _ in 2..13 do
            sb.Append('\t') |> ignore

            if rng.Next 10 > 0 then
                sb.Append(rng.Next 100) |> ignore

        sb.Append('\t').Append($"a%02x{c1}").Append('\t').Append($"b%02x{c2}") |> ignore

        for _ in 3..26 do
            sb.Append('\t').Append($"%x{rng.Next 8}") |> ignore

        sb.Append('\n') |> ignore

    sb.ToString()

/// Writes train (2,000 rows) and test (600 rows) files into `dir` and returns their paths.
let criteoFiles (dir: string) =
    let train = Path.Combine(dir, "train.tsv")
    let test = Path.Combine(dir, "test.tsv")
    File.WriteAllText(train, criteoRows 1 2000)
    File.WriteAllText(test, criteoRows 2 600)
    train, test

/// Flags of a small, fast model on the generated files.
let smallRun (train: string) (test: string) (out: string) =
    [ "train"
      "--model"
      "deepfm"
      "--train"
      train
      "--test"
      test
      "--format"
      "criteo"
      "--valid-ratio"
      "0.2"
      "--embedding-dim"
      "4"
      "--set"
      "dnn_hidden_units"
      "[16]"
      "--batch-size"
      "128"
      "--lr"
      "0.01"
      "--threads"
      "1"
      "--out"
      out ]

/// Every file under `dir` (relative path → SHA-256), to show that a failed command changed nothing.
let hashes (dir: string) =
    Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
    |> Array.map (fun f -> Path.GetRelativePath(dir, f), Convert.ToHexString(Security.Cryptography.SHA256.HashData(File.ReadAllBytes f)))
    |> Map.ofArray

/// A copy of a run folder (its cache included) under a fresh temp folder.
let copyRun (run: string) (name: string) =
    let target = Path.Combine(tempDir name, "run")

    for f in Directory.GetFiles(run, "*", SearchOption.AllDirectories) do
        let t = Path.Combine(target, Path.GetRelativePath(run, f))
        Directory.CreateDirectory(Path.GetDirectoryName t) |> ignore
        File.Copy(f, t)

    target

/// Saves `c` again at `path` with other metadata (a valid checksum over it).
let rewriteCheckpoint (path: string) (c: CtrDsl.Training.Checkpoint) (metadata: Collections.Generic.IReadOnlyDictionary<string, string>) =
    CtrDsl.Training
        .Checkpoint(
            Metadata = metadata,
            Features = c.Features,
            Parameters = c.Parameters,
            PlanStep = c.PlanStep,
            OptimizerSteps = c.OptimizerSteps,
            LearningRate = c.LearningRate,
            OptimizerState = c.OptimizerState
        )
        .Save
        path

/// A small DeepFM (k = 4, one hidden layer of 16) built for `options` over `features`: the distributed tests' model.
let smallDeepFM (options: CtrDsl.Dsl.FitOptions) (features: CtrDsl.Dsl.Features) =
    let entry = (CtrDsl.Models.Registry.tryFind "deepfm").Value

    let configured =
        match entry.Configure [ "embedding_dim", CtrDsl.Models.Registry.Int 4; "dnn_hidden_units", CtrDsl.Models.Registry.Ints [ 16 ] ] with
        | Ok c -> c
        | Error e -> failwith e.Message

    CtrDsl.Dsl.Fit.build options entry.DisplayName features configured.Expr
