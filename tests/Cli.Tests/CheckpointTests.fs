module CtrDsl.Cli.Tests.CheckpointTests

open System
open System.IO
open CtrDsl.Optim
open CtrDsl.Tensors
open CtrDsl.Training
open Expecto
open CtrDsl.Testing
open CtrDsl.Cli.Tests.Support

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
    Expect.equal (back.Metadata["note"]) "ü" "back.Metadata[\"note\"]"
    Expect.equal back.PlanStep 17L "back.PlanStep"
    Expect.equal back.Features ([| 1uy; 2uy |]) "back.Features"
    let a2, b2 = Parameter("emb", [| 5; 3 |], true), Parameter("w", [| 4 |])
    back.RestoreParameters([ a2; b2 ], path)
    Expect.equal a2.Value a.Value "a2.Value"
    Expect.equal b2.Value b.Value "b2.Value"
    Expect.isFalse (File.Exists(path + ".tmp")) "File.Exists(path + \".tmp\")"

let ``a truncated checkpoint is refused with one line naming the file`` () =
    let dir = Support.tempDir "ckpt"
    let a, b = parameters ()
    let path = Path.Combine(dir, "x.ckpt")
    Checkpoint.Capture(Collections.Generic.Dictionary(), [||], [ a; b ], null, 0L).Save path
    let bytes = File.ReadAllBytes path
    File.WriteAllBytes(path, bytes[.. bytes.Length - 10])
    let e = throws<CheckpointException> (fun () -> Checkpoint.Load path |> ignore)
    Expect.stringStarts e.Message (path + ":") "e.Message"
    Has.In("checksum", e.Message)

let ``restoring into a different model names the parameter`` () =
    let dir = Support.tempDir "ckpt"
    let a, b = parameters ()
    let path = Path.Combine(dir, "x.ckpt")
    Checkpoint.Capture(Collections.Generic.Dictionary(), [||], [ a; b ], null, 0L).Save path
    let c = Checkpoint.Load path
    let e = throws<CheckpointException> (fun () -> c.RestoreParameters([ Parameter("emb", [| 6; 3 |], true); b ], path))
    Has.In("emb", e.Message)

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
