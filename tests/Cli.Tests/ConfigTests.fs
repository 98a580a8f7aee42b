module CtrDsl.Cli.Tests.ConfigTests

open System.IO
open CtrDsl.Cli.Tests.Support
open Expecto
open CtrDsl.Testing

let private yaml (name: string) (text: string) =
    let path = Path.Combine(tempDir "config", name)
    File.WriteAllText(path, text)
    path

let ``an unknown model setting names file, line and column and lists the known keys`` () =
    let file = yaml "exp.yaml" "model:\n  name: deepfm\n  hidden_units: [10]\n"
    let r = ctr [ "train"; "--config"; file ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringStarts r.Err ($"ctr: %s{file}:3:3 hidden_units: unknown; known keys: embedding_dim, dnn_hidden_units") "r.Err"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"

let ``an unknown training key names file, line and column`` () =
    let file = yaml "exp.yaml" "training:\n  epochs: 1\n  epoch: 2\n"
    let r = ctr [ "train"; "--config"; file ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringStarts r.Err ($"ctr: %s{file}:3:3 epoch: unknown key in training; known keys: epochs,") "r.Err"

let ``a bad value names where it is and what was expected`` () =
    let file = yaml "exp.yaml" "training:\n  epochs: two\n"
    let r = ctr [ "train"; "--config"; file ]
    Expect.equal r.Code 2 "r.Code"
    Expect.equal (r.Err.Trim()) ($"ctr: %s{file}:2:11 epochs: expected an integer >= 1, got \"two\"") "r.Err.Trim()"

let ``a bad gradient exchange names where it is and what was expected`` () =
    for text, expected in
        [ "training:\n  exchange: fp16\n", "exchange: expected one of fp32 | bf16, got"
          "training:\n  exchange_bucket_kb: 2000000\n", "exchange_bucket_kb: expected at most 1048576 (1 GiB), got 2000000" ] do
        let file = yaml "exp.yaml" text
        let r = ctr [ "train"; "--config"; file ]
        Expect.equal r.Code 2 "r.Code"
        Expect.stringStarts r.Err ($"ctr: %s{file}:2:") "the file and line"
        Expect.stringContains r.Err expected "what was expected"
        Expect.equal (r.Err.Trim().Split('\n').Length) 1 "one line"

let ``the shuffle window is read, written back with the run and checked`` () =
    let e = CtrDsl.Cli.Experiment.load (yaml "exp.yaml" "training:\n  shuffle_window_rows: 4096\n")
    Expect.equal e.Training.ShuffleWindowRows 4096 "read from the file"
    let again = CtrDsl.Cli.Experiment.load (yaml "again.yaml" (CtrDsl.Cli.Experiment.toYaml e []))
    Expect.equal again.Training.ShuffleWindowRows 4096 "written back"
    let unset = CtrDsl.Cli.Experiment.load (yaml "unset.yaml" "training:\n  epochs: 1\n")
    Expect.equal unset.Training.ShuffleWindowRows CtrDsl.Data.BatchReader.DefaultShuffleWindowRows "the default"
    let file = yaml "exp.yaml" "training:\n  shuffle_window_rows: 0\n"
    let r = ctr [ "train"; "--config"; file ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringStarts r.Err ($"ctr: %s{file}:2:24 shuffle_window_rows: expected an integer >= 1, got") "r.Err"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "one line"

let ``an unknown model lists the zoo`` () =
    let r = ctr [ "train"; "--model"; "deepfn" ]
    Expect.equal r.Code 2 "r.Code"
    Has.In("unknown model \"deepfn\"; the zoo: lr, fm, dnn, deepfm, widedeep, deepfefm, fgcnn, ipnn, nfm, fwfm", r.Err)

let ``a missing training file is a usage error`` () =
    let r = ctr [ "train"; "--train"; "/no/such/file.tsv"; "--format"; "criteo" ]
    Expect.equal r.Code 2 "r.Code"
    Expect.equal (r.Err.Trim()) "ctr: /no/such/file.tsv: training file not found" "r.Err.Trim()"

let ``bad data names the line and column and exits with the data code`` () =
    let dir = tempDir "bad"
    let train = Path.Combine(dir, "train.tsv")
    let rows = (criteoRows 1 20).Split('\n')
    let fields = rows[4].Split('\t')
    fields[2] <- "abc"
    rows[4] <- System.String.Join("\t", fields)
    File.WriteAllText(train, System.String.Join("\n", rows))
    let r = ctr [ "train"; "--train"; train; "--format"; "criteo"; "--out"; Path.Combine(dir, "run") ]
    Expect.equal r.Code 3 "r.Code"
    Expect.stringStarts r.Err ($"ctr: %s{train}:5:") "r.Err"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"

let ``an unknown flag is one usage line`` () =
    let r = ctr [ "train"; "--epochz"; "1" ]
    Expect.equal r.Code 2 "r.Code"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"
    Has.In("--epochz", r.Err)

let ``help lists the flags and examples and exits 0`` () =
    let r = ctr [ "train"; "--help" ]
    Expect.equal r.Code 0 "r.Code"
    Has.In("--embedding-dim", r.Out)
    Has.In("examples:", r.Out)

/// The repository root (the folder holding CtrDsl.sln), found from the test binary's folder.
let private repo =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "CtrDsl.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo(System.AppContext.BaseDirectory))

let ``every example experiment parses and configures its model`` () =
    let files = Directory.GetFiles(Path.Combine(repo, "examples", "experiments"), "*.yaml")
    Expect.isNonEmpty files "files"

    for f in files do
        let root = CtrDsl.Dsl.Yaml.load f
        let e = CtrDsl.Cli.Experiment.ofNode [ "sweep" ] root
        CtrDsl.Cli.Experiment.configure e |> ignore

let ``the FGCNN seed file carries the seed document's configuration`` () =
    let e = CtrDsl.Cli.Experiment.load (Path.Combine(repo, "examples", "experiments", "fgcnn_seed.yaml"))
    let entry, c = CtrDsl.Cli.Experiment.configure e
    Expect.equal entry.Name "fgcnn" "entry.Name"
    let get k = c.Effective |> List.find (fst >> (=) k) |> snd
    Expect.equal (get "embedding_dim") (CtrDsl.Models.Registry.Int 40) "get \"embedding_dim\""
    Expect.equal (get "conv_kernels") (CtrDsl.Models.Registry.Ints [ 14; 16; 18; 20 ]) "get \"conv_kernels\""
    Expect.equal (get "kernels") (CtrDsl.Models.Registry.Ints [ 3; 3; 3; 3 ]) "get \"kernels\""
    Expect.equal (get "h") (CtrDsl.Models.Registry.Ints [ 7; 7; 7; 7 ]) "get \"h\""
    Expect.equal (get "hp") (CtrDsl.Models.Registry.Ints [ 2; 2; 2; 2 ]) "get \"hp\""
    Expect.equal (get "dense_layers") (CtrDsl.Models.Registry.Ints [ 4096; 2048; 1024; 512 ]) "get \"dense_layers\""
    Expect.equal e.Training.Optimizer CtrDsl.Dsl.Ranger "e.Training.Optimizer"
    Expect.equal e.Training.Objective CtrDsl.Dsl.BinaryClassification "e.Training.Objective"

let ``an unknown model in the file names the line of its name`` () =
    let file = yaml "exp.yaml" "training:\n  epochs: 1\nmodel:\n  name: deepfn\n"
    let r = ctr [ "train"; "--config"; file ]
    Expect.equal r.Code 2 "r.Code"
    Expect.stringStarts r.Err ($"ctr: %s{file}:4:9 model: unknown model \"deepfn\"; the zoo: lr,") "r.Err"

let ``a bad model value from a flag names the flag`` () =
    let r = ctr [ "train"; "--set"; "net_dropout"; "2" ]
    Expect.equal r.Code 2 "r.Code"
    Expect.equal (r.Err.Trim()) "ctr: --set net_dropout net_dropout: expected a number in [0, 0.99], got 2 (model DeepFM)" "r.Err.Trim()"

let tests =
    testList
        "ConfigTests"
        [ testCase
              "an unknown model setting names file, line and column and lists the known keys"
              ``an unknown model setting names file, line and column and lists the known keys``
          testCase "an unknown training key names file, line and column" ``an unknown training key names file, line and column``
          testCase "a bad value names where it is and what was expected" ``a bad value names where it is and what was expected``
          testCase
              "a bad gradient exchange names where it is and what was expected"
              ``a bad gradient exchange names where it is and what was expected``
          testCase
              "the shuffle window is read, written back with the run and checked"
              ``the shuffle window is read, written back with the run and checked``
          testCase "an unknown model lists the zoo" ``an unknown model lists the zoo``
          testCase "a missing training file is a usage error" ``a missing training file is a usage error``
          testCase
              "bad data names the line and column and exits with the data code"
              ``bad data names the line and column and exits with the data code``
          testCase "an unknown flag is one usage line" ``an unknown flag is one usage line``
          testCase "help lists the flags and examples and exits 0" ``help lists the flags and examples and exits 0``
          testCase "every example experiment parses and configures its model" ``every example experiment parses and configures its model``
          testCase "the FGCNN seed file carries the seed document's configuration" ``the FGCNN seed file carries the seed document's configuration``
          testCase "an unknown model in the file names the line of its name" ``an unknown model in the file names the line of its name``
          testCase "a bad model value from a flag names the flag" ``a bad model value from a flag names the flag`` ]
