module CtrDsl.Dsl.Tests.ServingTests

open System
open Expecto
open CtrDsl.Autodiff
open CtrDsl.Cpu
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Dsl.Tests.Support

/// Each of `rows` rows of `ids` scored alone by a one-row plan whose backend reads its dense layers' weights from
/// copies packed for one row, as a Predictor's single-row plan does.
let private scoredAlone (m: BuiltModel) (ids: int[]) rows =
    let backend = new CpuBackend()
    let plan = Plan.Compile(m.Graph, backend, 1, null, m.Output)
    backend.PackSingleRowWeights [ for p in plan.Parameters -> nonNull (plan.ValueOf(p).Buffer) ]
    let idsNode = m.Inputs |> List.find (fun n -> n.Name = "ids")
    let fields = ids.Length / rows
    let y = Array.zeroCreate<float32> 1

    [| for r in 0 .. rows - 1 ->
           plan.SetInput(idsNode, ReadOnlySpan(ids, r * fields, fields))
           plan.Forward()
           plan.Read(m.Output, Span y)
           y[0] |]

let private bits (x: float32[]) = Array.map BitConverter.SingleToInt32Bits x

/// Scores on the calling thread alone, or over the worker pool with every one-row product split whatever its size.
let private onThreads (pool: bool) (score: unit -> 'a) =
    if pool then
        RowGemv.ParallelMinWeights <- 0L

        try
            score ()
        finally
            RowGemv.ParallelMinWeights <- 64L * 1024L
    else
        let scope = WorkerPool.CallingThreadOnly()

        try
            score ()
        finally
            scope.Dispose()

let tests =
    testList
        "serving"
        [ for name, fields, hidden in
              [ "DeepFM's defaults", 39, [ 400; 400; 400 ]
                "odd widths", 13, [ 37; 401; 19 ]
                "one wide layer", 5, [ 1031 ]
                "every last-panel width", 7, [ 17; 33; 49; 64; 65; 1 ] ] do
              for pool in [ false; true ] ->
                  let threads = if pool then "worker pool, every layer split" else "calling thread only"

                  testCase $"a row scored alone through packed weights equals the same row in a batch, bit for bit (%s{name}, %s{threads})"
                  <| fun () ->
                      let f = features fields 50

                      let m = Model.build "DeepFM" f 5UL (DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Mlp.Hidden = hidden })

                      let rows = 23
                      let ids = randomIds (Random 17) f rows
                      let batch = forward m ids rows
                      let alone = onThreads pool (fun () -> scoredAlone m ids rows)
                      Expect.equal (bits alone) (bits batch) "one row alone against the batch of 23" ]
