module CtrDsl.Cli.Tests.ConfigTests

open System.IO
open CtrDsl.Cli.Tests.Support
open Xunit

let private yaml (name: string) (text: string) =
    let path = Path.Combine(tempDir "config", name)
    File.WriteAllText(path, text)
    path

[<Fact>]
let ``an unknown model setting names file, line and column and lists the known keys`` () =
    let file = yaml "exp.yaml" "model:\n  name: deepfm\n  hidden_units: [10]\n"
    let r = ctr [ "train"; "--config"; file ]
    Assert.Equal(2, r.Code)
    Assert.StartsWith($"ctr: %s{file}:3:3 hidden_units: unknown; known keys: embedding_dim, dnn_hidden_units", r.Err)
    Assert.Equal(1, r.Err.Trim().Split('\n').Length)

[<Fact>]
let ``an unknown training key names file, line and column`` () =
    let file = yaml "exp.yaml" "training:\n  epochs: 1\n  epoch: 2\n"
    let r = ctr [ "train"; "--config"; file ]
    Assert.Equal(2, r.Code)
    Assert.StartsWith($"ctr: %s{file}:3:3 epoch: unknown key in training; known keys: epochs,", r.Err)

[<Fact>]
let ``a bad value names where it is and what was expected`` () =
    let file = yaml "exp.yaml" "training:\n  epochs: two\n"
    let r = ctr [ "train"; "--config"; file ]
    Assert.Equal(2, r.Code)
    Assert.Equal($"ctr: %s{file}:2:11 epochs: expected an integer >= 1, got \"two\"", r.Err.Trim())

[<Fact>]
let ``an unknown model lists the zoo`` () =
    let r = ctr [ "train"; "--model"; "deepfn" ]
    Assert.Equal(2, r.Code)
    Assert.Contains("unknown model \"deepfn\"; the zoo: lr, fm, dnn, deepfm, widedeep, deepfefm, fgcnn, ipnn, nfm, fwfm", r.Err)

[<Fact>]
let ``a missing training file is a usage error`` () =
    let r = ctr [ "train"; "--train"; "/no/such/file.tsv"; "--format"; "criteo" ]
    Assert.Equal(2, r.Code)
    Assert.Equal("ctr: /no/such/file.tsv: training file not found", r.Err.Trim())

[<Fact>]
let ``bad data names the line and column and exits with the data code`` () =
    let dir = tempDir "bad"
    let train = Path.Combine(dir, "train.tsv")
    let rows = (criteoRows 1 20).Split('\n')
    let fields = rows[4].Split('\t')
    fields[2] <- "abc"
    rows[4] <- System.String.Join("\t", fields)
    File.WriteAllText(train, System.String.Join("\n", rows))
    let r = ctr [ "train"; "--train"; train; "--format"; "criteo"; "--out"; Path.Combine(dir, "run") ]
    Assert.Equal(3, r.Code)
    Assert.StartsWith($"ctr: %s{train}:5:", r.Err)
    Assert.Equal(1, r.Err.Trim().Split('\n').Length)

[<Fact>]
let ``an unknown flag is one usage line`` () =
    let r = ctr [ "train"; "--epochz"; "1" ]
    Assert.Equal(2, r.Code)
    Assert.Equal(1, r.Err.Trim().Split('\n').Length)
    Assert.Contains("--epochz", r.Err)

[<Fact>]
let ``help lists the flags and examples and exits 0`` () =
    let r = ctr [ "train"; "--help" ]
    Assert.Equal(0, r.Code)
    Assert.Contains("--embedding-dim", r.Out)
    Assert.Contains("examples:", r.Out)
