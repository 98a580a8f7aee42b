module CtrDsl.Cli.Tests.CheckpointTests

open System
open System.IO
open CtrDsl.Optim
open CtrDsl.Tensors
open CtrDsl.Training
open Expecto
open Xunit

let private parameters () =
    let a = Parameter("emb", [| 5; 3 |], true)
    let b = Parameter("w", [| 4 |])
    let rng = Random(3)

    for p in [ a; b ] do
        for i in 0 .. p.Value.Length - 1 do
            p.Value[i] <- float32 (rng.NextDouble())

    a, b

let ``a checkpoint round-trips values, metadata and optimizer state bit for bit`` () =
    let dir = Support.tempDir "ckpt"
    let a, b = parameters ()
    let adam = Adam([ a; b ], 0.01f)

    let c =
        Checkpoint.Capture(dict [ "model", "deepfm"; "note", "ü" ] |> Collections.Generic.Dictionary, [| 1uy; 2uy |], [ a; b ], adam, 17L)

    let path = Path.Combine(dir, "x.ckpt")
    c.Save path
    let back = Checkpoint.Load path
    Assert.Equal("ü", back.Metadata["note"])
    Assert.Equal(17L, back.PlanStep)
    Assert.Equal<byte[]>([| 1uy; 2uy |], back.Features)
    let a2, b2 = Parameter("emb", [| 5; 3 |], true), Parameter("w", [| 4 |])
    back.RestoreParameters([ a2; b2 ], path)
    Assert.Equal<float32[]>(a.Value, a2.Value)
    Assert.Equal<float32[]>(b.Value, b2.Value)
    Assert.False(File.Exists(path + ".tmp"))

let ``a truncated checkpoint is refused with one line naming the file`` () =
    let dir = Support.tempDir "ckpt"
    let a, b = parameters ()
    let path = Path.Combine(dir, "x.ckpt")
    Checkpoint.Capture(Collections.Generic.Dictionary(), [||], [ a; b ], null, 0L).Save path
    let bytes = File.ReadAllBytes path
    File.WriteAllBytes(path, bytes[.. bytes.Length - 10])
    let e = Assert.Throws<CheckpointException>(fun () -> Checkpoint.Load path |> ignore)
    Assert.StartsWith(path + ":", e.Message)
    Assert.Contains("checksum", e.Message)

let ``restoring into a different model names the parameter`` () =
    let dir = Support.tempDir "ckpt"
    let a, b = parameters ()
    let path = Path.Combine(dir, "x.ckpt")
    Checkpoint.Capture(Collections.Generic.Dictionary(), [||], [ a; b ], null, 0L).Save path
    let c = Checkpoint.Load path
    let e = Assert.Throws<CheckpointException>(fun () -> c.RestoreParameters([ Parameter("emb", [| 6; 3 |], true); b ], path))
    Assert.Contains("emb", e.Message)

let tests =
    testList
        "CheckpointTests"
        [ testCase
              "a checkpoint round-trips values, metadata and optimizer state bit for bit"
              ``a checkpoint round-trips values, metadata and optimizer state bit for bit``
          testCase
              "a truncated checkpoint is refused with one line naming the file"
              ``a truncated checkpoint is refused with one line naming the file``
          testCase "restoring into a different model names the parameter" ``restoring into a different model names the parameter`` ]
