/// Issue 13: failed commands name the flag or file in one line and leave an existing run folder as it was.
module CtrDsl.Cli.Tests.ReliabilityTests

open System
open System.IO
open Expecto
open CtrDsl.Testing
open CtrDsl.Cli.Tests.Support

/// One trained run on the generated data, shared by the tests that only read it (they copy it before a failing command).
let private trained =
    lazy
        (let dir = tempDir "reliability"
         let train, test = criteoFiles dir
         let run = Path.Combine(dir, "run")
         let r = ctr (smallRun train test run @ [ "--epochs"; "1" ])
         Expect.isTrue ((r.Code = 0)) r.Err
         dir, train, test, run)

let private oneLine (r: Result) =
    Expect.equal (r.Out.Trim()) "" "r.Out.Trim()"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"
    Expect.stringStarts r.Err "ctr: " "r.Err"

let ``ctr --version prints the informational version and exits 0`` () =
    let r = ctr [ "--version" ]
    Expect.equal r.Code 0 "r.Code"
    Expect.isMatch r.Out (@"^ctr \d+\.\d+\.\d+\S*\s*$") "r.Out"

let ``a batch too large for memory is a usage error naming the flag and the memory, before any data is read`` () =
    let dir = tempDir "batch"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    let r = ctr (smallRun train test run @ [ "--batch-size"; "2000000000" ])
    Expect.equal r.Code 2 "r.Code"
    oneLine r
    Has.In("--batch-size", r.Err)
    Expect.isMatch r.Err (@"would need [\d.]+ GiB") "r.Err"
    Expect.isFalse (Directory.Exists run) "nothing was written"

let ``the plan footprint is the compiled plan's allocation up to 128 rows and follows it above`` () =
    let entry = (CtrDsl.Models.Registry.tryFind "deepfm").Value
    let configured = (entry.Configure []) |> Result.toOption |> Option.get
    let features = CtrDsl.Dsl.Features.ids [ for i in 1..8 -> $"C%d{i}" ] 800
    let m = CtrDsl.Dsl.Fit.build CtrDsl.Dsl.FitOptions.defaults "DeepFM" features configured.Expr
    let at (n: int) = CtrDsl.Autodiff.Plan.Footprint(m.Graph, n, m.Loss, m.Output)
    let small, line, huge = at 100, at 4096, at Int32.MaxValue

    Expect.isTrue
        (small.Bytes > 0L && line.Bytes > small.Bytes && huge.Bytes > line.Bytes)
        "small.Bytes > 0L && line.Bytes > small.Bytes && huge.Bytes > line.B..."

    use backend = new CtrDsl.Cpu.CpuBackend()
    // Beside the arena, a row gradient and its index per id of the batch, for the embedding (dim 10) and the linear
    // weights (dim 1): 100 rows × 8 fields, all within the 800-row tables.
    let sparseRows = 100L * 8L * int64 ((10 + 1) + (1 + 1)) * 4L
    Expect.equal small.Bytes (CtrDsl.Autodiff.Plan.Compile(m.Graph, backend, 100, m.Loss, m.Output).AllocatedBytes + sparseRows) "small.Bytes"
    // The extrapolated line against a compile of the same batch: the arena packs greedily, so allow 5 %.
    let real = CtrDsl.Autodiff.Plan.Compile(m.Graph, backend, 4096, m.Loss, m.Output).AllocatedBytes
    Has.Within(float line.Bytes, 0.95 * float real, 1.05 * float real + 1e6)

let ``describe over more fields than a table holds is a usage error`` () =
    let r = ctr [ "describe"; "deepfm"; "--fields"; "10000000" ]
    Expect.equal r.Code 2 "r.Code"
    oneLine r
    Has.In("--fields", r.Err)

let ``--threads above the pool's most is a usage error when the flags are parsed`` () =
    let dir = tempDir "threads"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")

    for args in
        [ smallRun train test run @ [ "--threads"; "100000" ]
          [ "eval"; run; "--data"; test; "--threads"; "5000" ]
          [ "predict"; run; "--data"; test; "--out"; Path.Combine(dir, "p.txt"); "--threads"; "-1" ] ] do
        let r = ctr args
        Expect.equal r.Code 2 "r.Code"
        oneLine r
        Has.In("--threads", r.Err)
        Has.In("1024", r.Err)

    Expect.isFalse (Directory.Exists run) "Directory.Exists run"

let ``--out naming a file or a folder of the wrong kind is one true line`` () =
    let dir, _, test, run = trained.Force()
    let file = Path.Combine(dir, "a-file")
    File.WriteAllText(file, "x")
    let r1 = ctr (smallRun test test file)
    Expect.equal r1.Code 2 "r1.Code"
    oneLine r1
    Has.In("is a file; expected a run folder", r1.Err)
    Expect.equal (File.ReadAllText file) "x" "File.ReadAllText file"
    let folder = Path.Combine(dir, "a-folder")
    Directory.CreateDirectory folder |> ignore
    let r2 = ctr [ "predict"; run; "--data"; test; "--out"; folder ]
    Expect.equal r2.Code 2 "r2.Code"
    oneLine r2
    Has.In("is a folder; expected a file name", r2.Err)
    let r3 = ctr [ "predict"; run; "--data"; test; "--out"; Path.Combine(file, "scores.txt") ]
    Expect.equal r3.Code 2 "r3.Code"
    oneLine r3

let ``a resume from a damaged last.ckpt changes nothing in the run folder`` () =
    let _, _, _, run = trained.Force()
    let copy = copyRun run "damaged"
    let last = Path.Combine(copy, "last.ckpt")
    let bytes = File.ReadAllBytes last
    File.WriteAllBytes(last, bytes[.. bytes.Length / 2])
    let before = hashes copy
    let r = ctr [ "train"; "--resume"; copy; "--epochs"; "2" ]
    Expect.equal r.Code 1 "r.Code"
    Has.In("last.ckpt", r.Err)
    Expect.equal (hashes copy) before "hashes copy"

let ``a model that does not fit the schema fails before the data is read, leaving the run folder as it was`` () =
    let dir, _, test, run = trained.Force()
    let copy = copyRun run "fgcnn"
    // Another training file: had the data been prepared, new caches and features files would appear in the run.
    let other = Path.Combine(dir, "other.tsv")
    File.WriteAllText(other, criteoRows 5 300)
    let before = hashes copy

    // Four pooling layers of size 3 over 39 fields leave none: a shape error when the model is built.
    let r =
        ctr
            [ "train"
              "--model"
              "fgcnn"
              "--train"
              other
              "--test"
              test
              "--format"
              "criteo"
              "--set"
              "kernels"
              "4,4,4,4"
              "--set"
              "conv_kernels"
              "4,4,4,4"
              "--set"
              "h"
              "2"
              "--set"
              "hp"
              "3"
              "--out"
              copy ]

    Expect.equal r.Code 2 "r.Code"
    oneLine r
    Has.In("FGCNN: FGCNN/conv_generate: too few fields for pooling", r.Err)
    Expect.equal (hashes copy) before "hashes copy"

let ``a data error half-way through the training file leaves an existing run folder as it was, and creates none`` () =
    let dir, _, test, run = trained.Force()
    let copy = copyRun run "bad-data"
    let bad = Path.Combine(dir, "bad.tsv")
    File.WriteAllText(bad, criteoRows 6 300 + "1\tx\t2\n")
    let before = hashes copy
    let r = ctr (smallRun bad test copy)
    Expect.equal r.Code 3 "r.Code"
    Has.In("bad.tsv:301", r.Err)
    Expect.equal (hashes copy) before "hashes copy"
    let fresh = Path.Combine(dir, "fresh-run")
    Expect.equal ((ctr (smallRun bad test fresh)).Code) 3 "(ctr (smallRun bad test fresh)).Code"
    Expect.isFalse (Directory.Exists fresh) "a failed first run leaves no folder"

let ``resume refuses a training file that changed since the run started, and changes nothing`` () =
    let dir = tempDir "edited"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    let r = ctr (smallRun train test run @ [ "--max-steps"; "3" ])
    Expect.equal r.Code 0 "r.Code"
    File.WriteAllText(train, criteoRows 9 1500)
    let before = hashes run
    let r2 = ctr [ "train"; "--resume"; run ]
    Expect.equal r2.Code 1 "r2.Code"
    oneLine r2
    Has.In("the training file changed since the run started", r2.Err)
    Expect.equal (hashes run) before "hashes run"

let ``eval and predict use the checkpoint's features, also after the training file changed`` () =
    let dir = tempDir "edited-eval"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    Expect.equal ((ctr (smallRun train test run @ [ "--epochs"; "1" ])).Code) 0 "(ctr (smallRun train test run @ [ \"--epochs\"; \"1\" ])).Code"

    let scores () =
        let out = Path.Combine(dir, "p.txt")
        let r = ctr [ "predict"; run; "--data"; test; "--out"; out ]
        Expect.equal r.Code 0 "r.Code"
        File.ReadAllText out

    let first = scores ()
    File.WriteAllText(train, criteoRows 9 1500)
    Expect.equal (scores ()) first "scores ()"
    // The training file itself can be scored: its evaluation cache has a name of its own.
    Expect.equal ((ctr [ "eval"; run; "--data"; train ]).Code) 0 "(ctr [ \"eval\"; run; \"--data\"; train ]).Code"

let ``a checkpoint whose features do not match its features_hash is refused`` () =
    let _, _, test, run = trained.Force()
    let copy = copyRun run "hash"
    let path = Path.Combine(copy, "checkpoint.ckpt")
    let c = CtrDsl.Training.Checkpoint.Load path
    let metadata = Collections.Generic.Dictionary<string, string>(c.Metadata)
    metadata["features_hash"] <- "0123456789abcdef"
    rewriteCheckpoint path c metadata
    let r = ctr [ "eval"; copy; "--data"; test ]
    Expect.equal r.Code 1 "r.Code"
    oneLine r
    Has.In("0123456789abcdef", r.Err)

let ``a runaway loss under the default Adam stops with exit 4 and a loadable last good checkpoint`` () =
    let dir = tempDir "adam-runaway"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    // Evaluated (and checkpointed) after every step: step 1 is the last good one, the explosion comes right after.
    let r = ctr (smallRun train test run @ [ "--lr"; "1e4"; "--epochs"; "3"; "--eval-every"; "1" ])
    Expect.equal r.Code 4 "r.Code"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"
    Has.In("training diverged at step", r.Err)
    let e = ctr [ "eval"; run; "--data"; test; "--json" ]
    Expect.equal e.Code 0 "e.Code"

    Expect.isTrue
        (Double.IsFinite((json e).GetProperty("metrics").GetProperty("logloss").GetDouble()))
        "Double.IsFinite((json e).GetProperty(\"metrics\").GetProperty(\"loglos..."

let ``one learning-rate range for flags and YAML, and a run at its edge reloads`` () =
    let dir = tempDir "lr"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")

    for lr in [ "Infinity"; "NaN"; "1e5"; "0" ] do
        let r = ctr (smallRun train test run @ [ "--lr"; lr ])
        Expect.equal r.Code 2 "r.Code"
        Has.In("--lr: expected a number in [1e-12, 10000]", r.Err)

    let yaml = Path.Combine(dir, "exp.yaml")
    File.WriteAllText(yaml, "training:\n  learning_rate: 1e5\n")
    let y = ctr [ "train"; "--config"; yaml ]
    Expect.equal y.Code 2 "y.Code"
    Has.In("learning_rate", y.Err)
    Expect.isFalse (Directory.Exists run) "Directory.Exists run"
    // lr 20 (above the old YAML limit of 10): halted after 2 steps, then resumed (which reads config.yaml back
    // through the YAML range), evaluated and described.
    let r = ctr (smallRun train test run @ [ "--optimizer"; "sgd"; "--lr"; "20"; "--max-steps"; "2" ])
    Expect.isTrue ((r.Code = 0)) r.Err
    let resumed = ctr [ "train"; "--resume"; run; "--epochs"; "1" ]
    Expect.isTrue ((resumed.Code = 0 || resumed.Code = 4)) resumed.Err

    if resumed.Code = 0 then
        Expect.equal ((ctr [ "eval"; run; "--data"; test ]).Code) 0 "(ctr [ \"eval\"; run; \"--data\"; test ]).Code"
        Expect.equal ((ctr [ "describe"; run ]).Code) 0 "(ctr [ \"describe\"; run ]).Code"

let tests =
    testList
        "ReliabilityTests"
        [ testCase "ctr --version prints the informational version and exits 0" ``ctr --version prints the informational version and exits 0``
          testCase
              "a batch too large for memory is a usage error naming the flag and the memory, before any data is read"
              ``a batch too large for memory is a usage error naming the flag and the memory, before any data is read``
          testCase
              "the plan footprint is the compiled plan's allocation up to 128 rows and follows it above"
              ``the plan footprint is the compiled plan's allocation up to 128 rows and follows it above``
          testCase "describe over more fields than a table holds is a usage error" ``describe over more fields than a table holds is a usage error``
          testCase
              "--threads above the pool's most is a usage error when the flags are parsed"
              ``--threads above the pool's most is a usage error when the flags are parsed``
          testCase
              "--out naming a file or a folder of the wrong kind is one true line"
              ``--out naming a file or a folder of the wrong kind is one true line``
          testCase
              "a resume from a damaged last.ckpt changes nothing in the run folder"
              ``a resume from a damaged last.ckpt changes nothing in the run folder``
          testCase
              "a model that does not fit the schema fails before the data is read, leaving the run folder as it was"
              ``a model that does not fit the schema fails before the data is read, leaving the run folder as it was``
          testCase
              "a data error half-way through the training file leaves an existing run folder as it was, and creates none"
              ``a data error half-way through the training file leaves an existing run folder as it was, and creates none``
          testCase
              "resume refuses a training file that changed since the run started, and changes nothing"
              ``resume refuses a training file that changed since the run started, and changes nothing``
          testCase
              "eval and predict use the checkpoint's features, also after the training file changed"
              ``eval and predict use the checkpoint's features, also after the training file changed``
          testCase
              "a checkpoint whose features do not match its features_hash is refused"
              ``a checkpoint whose features do not match its features_hash is refused``
          testCase
              "a runaway loss under the default Adam stops with exit 4 and a loadable last good checkpoint"
              ``a runaway loss under the default Adam stops with exit 4 and a loadable last good checkpoint``
          testCase
              "one learning-rate range for flags and YAML, and a run at its edge reloads"
              ``one learning-rate range for flags and YAML, and a run at its edge reloads`` ]
