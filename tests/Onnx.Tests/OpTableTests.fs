/// The ops no zoo model uses with its default settings, each in a small graph of its own, through ONNX Runtime and our
/// forward pass; and a check that the zoo and these graphs together use every op of the table.
module CtrDsl.Onnx.Tests.OpTableTests

open System
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Cpu
open CtrDsl.Graph
open CtrDsl.Models
open CtrDsl.Onnx
open CtrDsl.Onnx.Tests.Support
open CtrDsl.Ops
open CtrDsl.Tensors
open Google.Protobuf
open Expecto

let private fields, tableRows, width, rows = 5, 40, 12, 64

/// A graph over ids [batch; 5] (rows of a 40-row table) and numbers [batch; 12], parameters filled with seeded noise.
type private Case(g: ExprGraph, seed: int) =
    let rng = Random seed
    member val Ids = g.CategoricalInput("ids", fields)
    member val Dense = g.NumericInput("dense", width)
    member _.Graph = g
    member _.Apply(op: Op, [<ParamArray>] inputs: Node[]) = g.Apply(op, inputs)

    member _.Param(name: string, [<ParamArray>] shape: int[]) =
        let p = Parameter(name, shape)

        for i in 0 .. p.Value.Length - 1 do
            p.Value[i] <- float32 (rng.NextDouble() - 0.5)

        g.Parameter p

    member c.Positive(name: string, n: int) =
        let node = c.Param(name, n)

        for i in 0 .. n - 1 do
            node.Parameter.Value[i] <- abs node.Parameter.Value[i] + 0.5f

        node

    member c.Embedded = c.Apply(Embedding(), c.Ids, c.Param("table", tableRows, 4))

let private cases: (string * (Case -> Node)) list =
    [ "slice, sub, scale and sigmoid",
      fun c ->
          let a = c.Apply(Slice(1, 2, 5), c.Dense)
          let b = c.Apply(Slice(-1, 7, 5), c.Dense)
          c.Apply(Sigmoid(), c.Apply(Scale(0.7f), c.Apply(Sub(), a, b)))
      "linear without bias, batch norm, prelu and dropout",
      fun c ->
          let h = c.Apply(Linear(false), c.Dense, c.Param("w", width, 8))
          let bn = c.Apply(BatchNorm(1e-3f), h, c.Param("gamma", 8), c.Param("beta", 8), c.Param("mean", 8), c.Positive("var", 8))
          c.Apply(Dropout(0.3f), c.Apply(PRelu(), bn, c.Param("slope", 8)))
      "layer norm over [batch; 3; 4] and a kept mean",
      fun c ->
          let x = c.Apply(Reshape([| 3; 4 |]), c.Dense)
          let y = c.Apply(LayerNorm(1e-5f), x, c.Param("gamma", 4), c.Param("beta", 4))
          c.Apply(Flatten(), c.Apply(Mean(1, true), y))
      "pairwise outer products", fun c -> c.Apply(Flatten(), c.Apply(PairwiseOuter(), c.Embedded))
      "max pooling with ceil rounding over 5 fields",
      fun c ->
          let x = c.Apply(Reshape([| 1; fields; 4 |]), c.Embedded)
          c.Apply(Flatten(), c.Apply(FieldMaxPool(2, PoolRounding.Ceil), x))
      "batched matmul of two transposed operands, softmax over the last axis",
      fun c ->
          let e = c.Embedded
          c.Apply(Flatten(), c.Apply(Softmax(), c.Apply(BatchedMatMul(true, true), e, c.Apply(Transpose(1, 2), e)))) ]

let caseNames = cases |> List.map fst

let private build (name: string) =
    let c = Case(ExprGraph(), name.Length)
    let output = (cases |> List.find (fun (n, _) -> n = name) |> snd) c
    c, output

let private ours (c: Case) (output: Node) (data: Rows) =
    use backend = new CpuBackend()
    let plan = Plan.Compile(c.Graph, backend, data.Count, null, output)
    plan.Training <- false
    plan.Batch <- data.Count
    let reads (input: Node) = plan.Order |> Seq.contains input

    if reads c.Ids then
        plan.SetInput(c.Ids, ReadOnlySpan data.Ids)

    if reads c.Dense then
        plan.SetInput(c.Dense, ReadOnlySpan data.Dense)

    plan.Forward()
    let y = Array.zeroCreate<float32> (int (output.Shape.Numel data.Count))
    plan.Read(output, Span y)
    y

let private opCase (name: string) =
    let c, output = build name
    let rng = Random 9

    let data =
        { Count = rows
          Ids = Array.init (rows * fields) (fun _ -> rng.Next tableRows)
          Dense = Array.init (rows * width) (fun _ -> float32 (rng.NextDouble() * 4.0 - 2.0)) }

    let onnx = OnnxExport.ToModel(c.Graph, output, false, "ops").ToByteArray()
    keepForChecker ("ops-" + Text.RegularExpressions.Regex.Replace(name, "[^a-z0-9]+", "-")) onnx
    let expected = ours c output data
    let got = ortScores onnx data
    let diff = maxAbsDiff expected got
    Expect.isTrue (diff <= 1e-5f) ($"%s{name}: ORT differs from our forward pass by up to %g{diff}")
    Expect.isTrue (spread expected > 1e-3f) ($"%s{name}: values barely vary")

let ``the zoo and the graphs here use every op of the table`` () =
    let ops (g: ExprGraph) = g.Nodes |> Seq.choose (fun n -> Option.ofObj n.Op) |> Seq.toList

    // The zoo on Adult (DIN needs a history, so it runs on the multi-valued data with DeepFM there), and these graphs.
    let graphs =
        [ for e in Registry.all do
              if not (List.contains e.Name (Registry.sequence @ Registry.multiTask)) then
                  yield (Support.build e (OnnxExportTests.settingsFor e.Name)).Graph
          for _, m in OnnxExportTests.sequenceModels () -> m.Graph
          for name, _ in cases -> (fst (build name)).Graph ]

    let used = graphs |> List.collect ops |> List.map (fun op -> op.GetType()) |> Collections.Generic.HashSet
    let missing = OnnxExport.Ops |> Seq.filter (fun (t: Type) -> not (used.Contains t)) |> Seq.map (fun t -> t.Name)
    Expect.isEmpty missing "ops of the table no graph uses"

let tests =
    testList
        "OpTableTests"
        [ testList "ops outside the zoo's defaults give ONNX Runtime's values" [ for name in caseNames -> testCase name (fun () -> opCase name) ]
          testCase "the zoo and the graphs here use every op of the table" ``the zoo and the graphs here use every op of the table`` ]
