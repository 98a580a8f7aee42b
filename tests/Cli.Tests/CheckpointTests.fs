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

// A table of 1M floats with Adam: 4 MB of values and 8 MB of moments, large enough that a copy shows in the counts.
let private large () =
    let table = Parameter("table", [| 100_000; 10 |], true)
    let rng = Random(5)

    for i in 0 .. table.Value.Length - 1 do
        table.Value[i] <- float32 (rng.NextDouble())

    let adam = Adam([ table ], 0.01f)
    let m = adam.State |> Seq.map (fun kv -> kv.Value) |> Seq.toList

    for s in m do
        for i in 0 .. s.Length - 1 do
            s[i] <- float32 (rng.NextDouble())

    table, adam

let private allocatedBy (f: unit -> unit) =
    let before = GC.GetAllocatedBytesForCurrentThread()
    f ()
    GC.GetAllocatedBytesForCurrentThread() - before

let ``a live checkpoint writes the captured one's bytes without copying the values`` () =
    let dir = Support.tempDir "ckpt"
    let table, adam = large ()
    let meta = Collections.Generic.Dictionary(dict [ "model", "fm" ])
    let captured, live = Path.Combine(dir, "captured.ckpt"), Path.Combine(dir, "live.ckpt")
    Checkpoint.Capture(meta, [| 7uy |], [ table ], adam, 9L).Save captured
    let stateBytes = adam.State |> Seq.sumBy (fun kv -> 4L * kv.Value.LongLength)
    let valueBytes = 4L * table.Value.LongLength + stateBytes
    let used = allocatedBy (fun () -> Checkpoint.Live(meta, [| 7uy |], [ table ], adam, 9L).Save live)
    Expect.equal (File.ReadAllBytes live) (File.ReadAllBytes captured) "the live checkpoint's bytes"
    Expect.isGreaterThan stateBytes 0L "Adam's state is saved"
    Expect.isLessThan used (valueBytes / 10L) $"bytes allocated by a live save (the values are {valueBytes})"

let ``loading a checkpoint allocates its values once, not the file as well`` () =
    let dir = Support.tempDir "ckpt"
    let table, adam = large ()
    let path = Path.Combine(dir, "x.ckpt")
    Checkpoint.Live(Collections.Generic.Dictionary(), [||], [ table ], adam, 0L).Save path
    let mutable back = Unchecked.defaultof<Checkpoint>
    let used = allocatedBy (fun () -> back <- Checkpoint.Load path)
    let file = FileInfo(path).Length
    Expect.equal back.Parameters[0].Values table.Value "the values read back"

    for kv in adam.State do
        Expect.equal back.OptimizerState[kv.Key] kv.Value $"state {kv.Key} read back"
    // The values are the whole file but for a few hundred bytes; the reader's buffers add about 1.1 MB.
    Expect.isLessThan used (file + (3L <<< 19)) $"bytes allocated by a load of a {file}-byte file"

let tests =
    testList
        "CheckpointTests"
        [ testCase
              "a checkpoint round-trips values, metadata and optimizer state bit for bit"
              ``a checkpoint round-trips values, metadata and optimizer state bit for bit``
          testCase
              "a truncated checkpoint is refused with one line naming the file"
              ``a truncated checkpoint is refused with one line naming the file``
          testCase "restoring into a different model names the parameter" ``restoring into a different model names the parameter``
          testCase
              "a live checkpoint writes the captured one's bytes without copying the values"
              ``a live checkpoint writes the captured one's bytes without copying the values``
          testCase
              "loading a checkpoint allocates its values once, not the file as well"
              ``loading a checkpoint allocates its values once, not the file as well`` ]
