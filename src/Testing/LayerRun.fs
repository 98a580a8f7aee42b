namespace CtrDsl.Testing

open System
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Dsl
open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Tensors

/// A layer built for one case: its graph, the input x [batch; fields; dim] as a parameter the plan takes gradients
/// of, every parameter in creation order (x first), the output, and L = Σ r ⊙ y with r drawn from the case's seed.
type BuiltLayer =
    { Case: LayerCase
      Graph: ExprGraph
      Input: Parameter
      Parameters: Parameter list
      Output: Node
      OutDims: int list
      Loss: Node
      R: float32[] }

/// What one run of a plan gave: the output and, after a backward pass, each trainable parameter's gradient
/// (row-sparse gradients written out densely).
type LayerRun = { Output: float[]; Grads: (Parameter * float[]) list }

/// Building, filling and running a layer on a backend; the properties are made of these.
module LayerRun =
    let private model = "check"

    /// The parameter's name under the layer: `fwfm/weight` rather than `check/fwfm/weight`.
    let shortName (p: Parameter) = if p.Name.StartsWith(model + "/") then p.Name.Substring(model.Length + 1) else p.Name

    /// Builds the layer on x [batch; fields; dim] with the given build seed; parameters keep their initial values.
    let build (spec: LayerSpec) (c: LayerCase) (seed: uint64) =
        let graph = ExprGraph()
        let features = Features.ids [ for i in 1 .. c.Fields -> $"C{i}" ] (c.Fields * 3) |> Features.withTasks spec.Tasks
        let b = Build(graph, features, seed, model)

        let x =
            Expr.make "x" (fun b ->
                let p = b.Param("value", [ c.Batch; c.Fields; c.Dim ], Initializer.Zeros())
                b.Graph.Apply(Lift(), [| p |]))

        let y = b.Eval(spec.Layer x)

        if not y.Shape.IsBatched then
            failwith $"{spec.Name}: expected an output with the batch first, got {y.Shape}"

        let outDims = y.Shape.Trailing |> List.ofArray
        let rng = Random(c.Seed + 1)
        let n = c.Batch * List.fold (*) 1 outDims
        let r = Array.init n (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0))
        let parameters = List.ofSeq b.Parameters

        { Case = c
          Graph = graph
          Input = parameters |> List.find (fun p -> p.Name = model + "/x/value")
          Parameters = parameters
          Output = y
          OutDims = outDims
          Loss = graph.Apply(WeightedSum r, [| y |])
          R = r }

    /// Fills x and every trainable parameter with U(−1, 1) from the case's seed, so zero-initialised biases and
    /// constant weights take part in the check.
    let randomize (l: BuiltLayer) =
        let rng = Random l.Case.Seed

        for p in l.Parameters do
            if p.Trainable then
                for i in 0 .. p.Value.Length - 1 do
                    p.Value[i] <- float32 (rng.NextDouble() * 2.0 - 1.0)

        l

    /// Builds and randomizes: the layer as every math property sees it.
    let prepared spec c = build spec c 1UL |> randomize

    /// The float64 copies a reference reads. The arrays are fresh, so a caller may perturb them.
    let values (l: BuiltLayer) =
        { Case = l.Case
          X = Array.map float l.Input.Value
          Parameters =
            [ for p in l.Parameters do
                  if not (obj.ReferenceEquals(p, l.Input)) then
                      shortName p, Array.map float p.Value ] }

    let private dense (p: Parameter) =
        match p.SparseGrad with
        | null -> Array.map float p.Grad
        | sg when p.IsSparse ->
            let d = Array.zeroCreate<float> p.Value.Length

            for s in 0 .. sg.Count - 1 do
                let row = sg.Row(s)

                for k in 0 .. sg.Dim - 1 do
                    d[sg.Rows[s] * sg.Dim + k] <- float row[k]

            d
        | _ -> Array.map float p.Grad

    /// Runs the layer's plan on a backend: forward, then backward when asked (training mode then).
    let run (backend: IBackend) (training: bool) (backward: bool) (l: BuiltLayer) =
        let plan =
            if backward then
                Plan.Compile(l.Graph, backend, l.Case.Batch, l.Loss, l.Output)
            else
                Plan.Compile(l.Graph, backend, l.Case.Batch, null, l.Output)

        plan.Training <- training
        plan.Seed <- uint64 l.Case.Seed
        plan.Forward()
        let y = Array.zeroCreate<float32> (l.Case.Batch * List.fold (*) 1 l.OutDims)
        plan.Read(l.Output, Span y)

        if backward then
            plan.Backward()

        { Output = Array.map float y
          Grads =
            if backward then
                [ for p in l.Parameters do
                      if p.Trainable then
                          p, dense p ]
            else
                [] }

    /// The output of the first `rows` rows alone: the same plan with a smaller batch.
    let firstRows (backend: IBackend) (rows: int) (l: BuiltLayer) =
        let plan = Plan.Compile(l.Graph, backend, l.Case.Batch, null, l.Output)
        plan.Batch <- rows
        plan.Forward()
        let y = Array.zeroCreate<float32> (rows * List.fold (*) 1 l.OutDims)
        plan.Read(l.Output, Span y)
        Array.map float y

    let private dot (r: float32[]) (y: float[]) =
        let mutable s = 0.0

        for i in 0 .. r.Length - 1 do
            s <- s + float r[i] * y[i]

        s

    /// The coordinates of a parameter the finite differences visit: all of them up to 48, else 48 drawn from the
    /// case's seed (a central difference costs two reference runs).
    let coordinates (c: LayerCase) (n: int) =
        if n <= 48 then
            [| 0 .. n - 1 |]
        else
            let rng = Random(c.Seed + 2)
            Array.init n id |> Array.sortBy (fun _ -> rng.Next()) |> Array.truncate 48 |> Array.sort

    /// dL/dθ[j] of L = Σ r ⊙ reference(values) by central differences in float64, h = 1e-5·max(1, |θ_j|), at the
    /// given coordinates of one array of `v` (x or a parameter).
    let centralDifferences (reference: Values -> float[]) (r: float32[]) (v: Values) (theta: float[]) (at: int[]) =
        at
        |> Array.map (fun j ->
            let keep = theta[j]
            let h = 1e-5 * max 1.0 (abs keep)
            theta[j] <- keep + h
            let up = dot r (reference v)
            theta[j] <- keep - h
            let down = dot r (reference v)
            theta[j] <- keep
            (up - down) / (2.0 * h))

    /// The case, x and the layer's parameters, written for a failure report.
    let describe (l: BuiltLayer) =
        let c = l.Case

        [ yield $"case: {c}"
          yield Show.tensor "x" [ c.Batch; c.Fields; c.Dim ] (Array.map float l.Input.Value)
          for p in l.Parameters do
              if not (obj.ReferenceEquals(p, l.Input)) then
                  yield Show.tensor (shortName p) (List.ofArray p.Shape) (Array.map float p.Value) ]
        |> String.concat "\n"
