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

/// Our forward pass of `output` in graph `g` over `count` rows, with each input's values (those it reads).
let private forward (g: ExprGraph) (output: Node) (count: int) (ids: (Node * int[]) list) (numbers: (Node * float32[]) list) =
    use backend = new CpuBackend()
    let plan = Plan.Compile(g, backend, count, null, output)
    plan.Training <- false
    plan.Batch <- count

    let reads (input: Node) = plan.Order |> Seq.contains input

    for n, v in ids |> List.filter (fst >> reads) do
        plan.SetInput(n, ReadOnlySpan v)

    for n, v in numbers |> List.filter (fst >> reads) do
        plan.SetInput(n, ReadOnlySpan v)

    plan.Forward()
    let y = Array.zeroCreate<float32> (int (output.Shape.Numel count))
    plan.Read(output, Span y)
    y

let private ours (c: Case) (output: Node) (data: Rows) = forward c.Graph output data.Count [ c.Ids, data.Ids ] [ c.Dense, data.Dense ]

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

/// masked_pool over x [batch; 6; 3] and its history ids [batch; 6]: row r has its first r mod 7 positions valid, so
/// every count from all padding to none occurs, and each padded position holds 50, above every valid value (in
/// [−2, 2)), so a Max that let padding in, or a Sum or Mean that counted it, would differ by far more than 1e-5.
let private maskedPool (pooling: SequencePooling) () =
    let len, k = 6, 3
    let g = ExprGraph()
    let history = g.MultiValuedInput("history", len)
    let dense = g.NumericInput("dense", len * k)
    let output = g.Apply(MaskedPool(pooling), g.Apply(Reshape([| len; k |]), dense), history)
    let rng = Random 5
    let valid row t = t < row % (len + 1)
    let ids = Array.init (rows * len) (fun i -> if valid (i / len) (i % len) then rng.Next 40 else -1)

    let values =
        Array.init (rows * len * k) (fun i -> if valid (i / (len * k)) (i / k % len) then float32 (rng.NextDouble() * 4.0 - 2.0) else 50f)

    let expected = forward g output rows [ history, ids ] [ dense, values ]
    let onnx = OnnxExport.ToModel(g, output, false, "ops").ToByteArray()
    keepForChecker $"ops-masked-pool-%s{string pooling}" onnx
    let got = ortScoresWith onnx { Count = rows; Ids = [||]; Dense = values } (Map [ "history", ids ])
    let diff = maxAbsDiff expected got
    Expect.isTrue (diff <= 1e-5f) ($"masked_pool %A{pooling}: ORT differs from our forward pass by up to %g{diff}")
    Expect.equal expected[0 .. k - 1] [| 0f; 0f; 0f |] "an all-padding row pools to 0"
    Expect.isTrue (Array.forall (fun v -> v < 49f) expected) "padding never counts in our kernel"

/// product_logit(a, b) for a, b = 40 × the numbers: moderate logits, and rows of ±2400 and ±200 where a naive
/// log(1 − σ(a)σ(b)) or exp(a + b) overflows or cancels. The logits agree to 1e-6 relative (ORT computes in float32,
/// our kernel in float64), the probabilities to the issue's 1e-5 absolute.
let ``product_logit stays finite and agrees at large logits`` () =
    let g = ExprGraph()
    let dense = g.NumericInput("dense", 12)
    let scaled = g.Apply(Scale(40f), dense)
    let output = g.Apply(ProductLogit(), g.Apply(Slice(1, 0, 6), scaled), g.Apply(Slice(1, 6, 6), scaled))
    let rng = Random 13
    let extremes = [| -60f; -5f; -0.5f; 0f; 0.5f; 5f; 60f |]

    let values =
        Array.init (rows * 12) (fun i ->
            if i / 12 % 2 = 0 then
                float32 (rng.NextDouble() * 4.0 - 2.0)
            else
                extremes[rng.Next extremes.Length])

    let expected = forward g output rows [] [ dense, values ]
    Expect.isTrue (Array.forall Single.IsFinite expected) "our logits are finite"
    Expect.isTrue (Array.exists (fun z -> abs z > 1000f) expected) "some logits are large"

    for isLogit in [ false; true ] do
        let onnx = OnnxExport.ToModel(g, output, isLogit, "ops").ToByteArray()
        keepForChecker $"ops-product-logit-%b{isLogit}" onnx
        let got = ortScores onnx { Count = rows; Ids = [||]; Dense = values }
        let want = if isLogit then expected |> Array.map (fun z -> 1f / (1f + exp -z)) else expected
        Expect.isTrue (Array.forall Single.IsFinite got) "ORT's values are finite"

        let excess =
            Array.map2 (fun (w: float32) (o: float32) -> abs (w - o) - (if isLogit then 1e-5f else 1e-6f * max 1f (abs w))) want got
            |> Array.max

        Expect.isTrue (excess <= 0f) ($"product_logit (as a probability: %b{isLogit}): ORT exceeds the tolerance by %g{excess}")

let ``the zoo and the graphs here use every op of the table`` () =
    let ops (g: ExprGraph) = g.Nodes |> Seq.choose (fun n -> Option.ofObj n.Op) |> Seq.toList

    // The zoo on Adult, the sequence models on the multi-valued data (with DeepFM there), the multi-task models on
    // their tasks, and these graphs.
    let graphs =
        [ for e in Registry.all do
              if not (List.contains e.Name (Registry.sequence @ Registry.multiTask)) then
                  yield (Support.build e (OnnxExportTests.settingsFor e.Name)).Graph
          for _, m in SequenceExportTests.sequenceModels () -> m.Graph
          for name, _ in cases -> (fst (build name)).Graph
          for e in MultiTaskExportTests.entries -> (MultiTaskExportTests.build e).Graph ]

    let used = graphs |> List.collect ops |> List.map (fun op -> op.GetType()) |> Collections.Generic.HashSet
    let missing = OnnxExport.Ops |> Seq.filter (fun (t: Type) -> not (used.Contains t)) |> Seq.map (fun t -> t.Name)
    Expect.isEmpty missing "ops of the table no graph uses"

let tests =
    testList
        "OpTableTests"
        [ testList "ops outside the zoo's defaults give ONNX Runtime's values" [ for name in caseNames -> testCase name (fun () -> opCase name) ]
          testList
              "masked_pool never counts padding and pools an all-padding row to 0, as ONNX Runtime does"
              [ for p in [ SequencePooling.Sum; SequencePooling.Mean; SequencePooling.Max ] -> testCase (string p) (maskedPool p) ]
          testCase "product_logit stays finite and agrees at large logits" ``product_logit stays finite and agrees at large logits``
          testCase "the zoo and the graphs here use every op of the table" ``the zoo and the graphs here use every op of the table`` ]
