namespace CtrDsl.Testing

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CtrDsl.Cpu
open CtrDsl.Dsl

/// The verdict of one case: pass, or fail with a report FsCheck shows beside the shrunk counterexample.
module Verdict =
    let ofMessage (failure: string option) =
        match failure with
        | None -> Prop.ofTestable true
        | Some report -> Prop.label report false

    /// The first failure among lazily evaluated checks.
    let firstOf (checks: seq<unit -> string option>) = checks |> Seq.tryPick (fun check -> check ())

/// The FsCheck settings every kit property runs with: a fixed replay seed, so a run is repeatable and a failure
/// names the seed that replays it.
module PropertyConfig =
    let ofTests (n: int) = { FsCheckConfig.defaultConfig with maxTest = n; replay = Some(20261202UL, 7046029254386353131UL, None) }

/// <summary>
/// The ready-made properties of a layer (<see cref="LayerSpec"/>), each an Expecto test named by a sentence.
/// Each builds the layer on generated cases, runs it through the real plan and reports a failing case, shrunk, with
/// its shapes and values.
/// </summary>
module LayerProperty =
    let private property (spec: LayerSpec) (name: string) (check: LayerCase -> string option) =
        testPropertyWithConfig (PropertyConfig.ofTests spec.Tests) name (Prop.forAll spec.Cases (check >> Verdict.ofMessage))

    let private report (l: BuiltLayer) (what: string) = $"{what}\n{LayerRun.describe l}"

    let private requireReference (spec: LayerSpec) =
        match spec.Reference with
        | Some f -> f
        | None -> invalidArg "spec" $"{spec.Name}: the property needs Layer.reference"

    /// The forward output matches the float64 reference within spec.Forward.
    let forwardMatchesReference (spec: LayerSpec) =
        let reference = requireReference spec

        property spec "forward matches the float64 reference" (fun c ->
            let l = LayerRun.prepared spec c
            let got = LayerRun.run (Backend.create Backend.cpu) true false l
            let want = reference (LayerRun.values l)

            Compare.first $"{spec.Name} forward, output" spec.Forward (c.Batch :: l.OutDims) want got.Output
            |> Option.map (fun m ->
                report
                    l
                    $"{m}\nreference {Show.values 48 (c.Batch :: l.OutDims) want}\ngot       {Show.values 48 (c.Batch :: l.OutDims) got.Output}"))

    /// Every gradient (x's and each trainable parameter's) of L = Σ r ⊙ y matches central differences of the
    /// reference within spec.Gradient.
    let backwardMatchesFiniteDifferences (spec: LayerSpec) =
        let reference = requireReference spec

        property spec "backward matches central differences" (fun c ->
            let l = LayerRun.prepared spec c
            let run = LayerRun.run (Backend.create Backend.cpu) true true l
            let v = LayerRun.values l

            let arrayOf (p: CtrDsl.Tensors.Parameter) =
                if obj.ReferenceEquals(p, l.Input) then
                    v.X
                else
                    snd (v.Parameters |> List.find (fun (n, _) -> n = LayerRun.shortName p))

            run.Grads
            |> Seq.tryPick (fun (p, analytic) ->
                let theta = arrayOf p
                let at = LayerRun.coordinates c theta.Length
                let numeric = LayerRun.centralDifferences reference l.R v theta at
                let name = if obj.ReferenceEquals(p, l.Input) then "x" else LayerRun.shortName p

                let dims = if obj.ReferenceEquals(p, l.Input) then [ c.Batch; c.Fields; c.Dim ] else List.ofArray p.Shape

                Array.zip at numeric
                |> Array.tryFind (fun (j, want) -> not (Tolerance.within spec.Gradient want analytic[j]))
                |> Option.map (fun (j, want) ->
                    let err = abs (analytic[j] - want)

                    report
                        l
                        ($"{spec.Name} d/d{name} at {name}{Show.index dims j}: central difference {Show.number want}, backward {Show.number analytic[j]} "
                         + $"(|err| {Show.number err} > {spec.Gradient.Atol} + {spec.Gradient.Rtol}·|central difference|; {at.Length} of {theta.Length} coordinates checked)"))))

    /// The output's dims after the batch are the declared law's.
    let shapeFollowsLaw (spec: LayerSpec) =
        let law = spec.Shape |> Option.defaultWith (fun () -> invalidArg "spec" $"{spec.Name}: the property needs Layer.shape")

        property spec "output shape follows the declared law" (fun c ->
            let l = LayerRun.build spec c 1UL
            let want = law c

            if l.OutDims = want then
                None
            else
                Some
                    $"{spec.Name} on x {Show.shape [ c.Batch; c.Fields; c.Dim ]}: declared [batch] @ {Show.shape want}, built {Show.shape (c.Batch :: l.OutDims)}")

    /// One build seed gives bit-identical parameters with the same names; another seed changes some value when any
    /// parameter starts random (more than one distinct value).
    let sameSeedSameParameters (spec: LayerSpec) =
        property spec "the same seed gives the same parameters" (fun c ->
            let seed = uint64 c.Seed
            let a, b, other = LayerRun.build spec c seed, LayerRun.build spec c seed, LayerRun.build spec c (seed + 1UL)

            Verdict.firstOf
                [ for pa, pb in List.zip a.Parameters b.Parameters do
                      yield
                          fun () ->
                              if pa.Name <> pb.Name then
                                  Some $"{spec.Name}: parameter names differ: {pa.Name} vs {pb.Name}"
                              elif pa.Value <> pb.Value then
                                  Some $"{spec.Name}: {LayerRun.shortName pa} differs between two builds with seed {seed}"
                              else
                                  None
                  yield
                      fun () ->
                          let random = a.Parameters |> List.exists (fun p -> p.Value |> Array.distinct |> Array.length > 1)
                          let changed = List.zip a.Parameters other.Parameters |> List.exists (fun (p, q) -> p.Value <> q.Value)

                          if random && not changed then
                              Some $"{spec.Name}: seeds {seed} and {seed + 1UL} give the same parameters"
                          else
                              None ])

    /// In evaluation mode a row's output does not depend on the other rows of its batch: the first row alone equals
    /// the first row of the batch, and reversing the rows reverses the output rows.
    let rowsAreIndependent (spec: LayerSpec) =
        property spec "a row's output does not depend on the other rows of its batch" (fun c ->
            let l = LayerRun.prepared spec c
            let width = List.fold (*) 1 l.OutDims
            let full = (LayerRun.run (Backend.create Backend.cpu) false false l).Output
            let alone = LayerRun.firstRows (Backend.create Backend.cpu) 1 l
            let rowX = c.Fields * c.Dim
            let x = Array.copy l.Input.Value

            for b in 0 .. c.Batch - 1 do
                Array.blit x ((c.Batch - 1 - b) * rowX) l.Input.Value (b * rowX) rowX

            let reversed = (LayerRun.run (Backend.create Backend.cpu) false false l).Output
            Array.blit x 0 l.Input.Value 0 x.Length
            let unreversed = Array.init full.Length (fun i -> reversed[(c.Batch - 1 - i / width) * width + i % width])

            Verdict.firstOf
                [ fun () -> Compare.first $"{spec.Name}: row 0 alone vs in its batch, output" spec.Forward (1 :: l.OutDims) full[.. width - 1] alone
                  fun () -> Compare.first $"{spec.Name}: rows reversed vs in order, output" spec.Forward (c.Batch :: l.OutDims) full unreversed ]
            |> Option.map (report l))

    /// One worker thread and two give the same output and gradients, bit for bit.
    let threadsAgree (spec: LayerSpec) =
        property spec "one thread and two threads agree bit for bit" (fun c ->
            let l = LayerRun.prepared spec c
            let keep = WorkerPool.ThreadCount

            let runWith threads =
                WorkerPool.ThreadCount <- threads

                try
                    LayerRun.run (Backend.create Backend.cpu) true true l
                finally
                    WorkerPool.ThreadCount <- keep

            let one, two = runWith 1, runWith 2

            Verdict.firstOf
                [ yield fun () -> Compare.first $"{spec.Name} 1 vs 2 threads, output" Tolerance.exact (c.Batch :: l.OutDims) one.Output two.Output
                  for (p, g1), (_, g2) in List.zip one.Grads two.Grads ->
                      fun () -> Compare.first $"{spec.Name} 1 vs 2 threads, d/d{LayerRun.shortName p}" Tolerance.exact (List.ofArray p.Shape) g1 g2 ]
            |> Option.map (report l))

    /// Permuting the fields of x leaves the output unchanged (within spec.Forward): a set-like combinator.
    let fieldPermutationInvariant (spec: LayerSpec) =
        property spec "the output is invariant under a permutation of the fields" (fun c ->
            let l = LayerRun.prepared spec c
            let before = (LayerRun.run (Backend.create Backend.cpu) false false l).Output
            let rng = Random(c.Seed + 3)
            let perm = Array.init c.Fields id |> Array.sortBy (fun _ -> rng.Next())
            let x = Array.copy l.Input.Value

            for b in 0 .. c.Batch - 1 do
                for f in 0 .. c.Fields - 1 do
                    Array.blit x ((b * c.Fields + perm[f]) * c.Dim) l.Input.Value ((b * c.Fields + f) * c.Dim) c.Dim

            let after = (LayerRun.run (Backend.create Backend.cpu) false false l).Output

            Compare.first
                $"{spec.Name} with fields permuted by {Show.values 16 [ perm.Length ] (Array.map float perm)}, output"
                spec.Forward
                (c.Batch :: l.OutDims)
                before
                after
            |> Option.map (report l))

    /// The backend agrees with the CPU within `t`: the output and every gradient. When the backend cannot be made
    /// here the test is pending (skipped) with the reason, unless CTRDSL_REQUIRE_OPENCL=1, where it fails.
    let backendsAgree (backend: Backend) (t: Tolerance) (spec: LayerSpec) =
        let name = $"{backend.Name} agrees with the CPU within {t.Atol} + {t.Rtol}·|cpu|"

        match backend.Create() with
        | Error why when not (Backend.required ()) -> ptestCase $"{name} (pending: {why})" ignore
        | _ ->
            property { spec with Tests = spec.BackendTests } name (fun c ->
                let cpu = LayerRun.run (Backend.create Backend.cpu) true true (LayerRun.prepared spec c)
                let l = LayerRun.prepared spec c
                let other = LayerRun.run (Backend.create backend) true true l

                Verdict.firstOf
                    [ yield fun () -> Compare.first $"{spec.Name} {backend.Name} vs CPU, output" t (c.Batch :: l.OutDims) cpu.Output other.Output
                      for (p, g1), (_, g2) in List.zip cpu.Grads other.Grads ->
                          fun () -> Compare.first $"{spec.Name} {backend.Name} vs CPU, d/d{LayerRun.shortName p}" t (List.ofArray p.Shape) g1 g2 ]
                |> Option.map (report l))

/// Declaring a layer under test and turning it into Expecto tests.
module Layer =
    /// A layer with no reference or law yet, on the awkward sizes, 25 cases a property, the default tolerances.
    let spec (name: string) (layer: Expr -> Expr) =
        { Name = name
          Layer = layer
          Reference = None
          Shape = None
          SetLike = false
          Cases = Arb.fromGenShrink (Gens.layerCase, Gens.shrinkLayerCase)
          Tests = 25
          Forward = Tolerance.forward
          Gradient = Tolerance.gradient
          Against = []
          BackendTests = 5
          Tasks = [] }

    /// The float64 definition the forward is checked against, and whose central differences check the backward.
    let reference (f: Values -> float[]) (s: LayerSpec) = { s with Reference = Some f }

    /// The declared output dims after the batch.
    let shape (law: LayerCase -> int list) (s: LayerSpec) = { s with Shape = Some law }

    /// Declares the layer invariant under any permutation of the fields of x.
    let setLike (s: LayerSpec) = { s with SetLike = true }

    /// Runs on other cases (e.g. only fields ≥ 2, or dims that divide by a head count).
    let cases (fields: int list) (dims: int list) (s: LayerSpec) =
        let shrink (c: LayerCase) = Gens.shrinkLayerCase c |> Seq.filter (fun c -> List.contains c.Fields fields && List.contains c.Dim dims)

        { s with Cases = Arb.fromGenShrink (Gens.layerCaseOf fields dims Sizes.batches, shrink) }

    /// Other tolerances for the forward and the gradient (say why where you loosen them).
    let tolerance (forward: Tolerance) (gradient: Tolerance) (s: LayerSpec) = { s with Forward = forward; Gradient = gradient }

    /// Also checks that `backend` agrees with the CPU within `t`, forward and backward.
    let against (backend: Backend) (t: Tolerance) (s: LayerSpec) = { s with Against = s.Against @ [ backend, t ] }

    /// Builds the layer with BCE tasks of these names, weight 1 (for the multi-task blocks: towers, experts, ple, esmm).
    let tasks (names: string list) (s: LayerSpec) =
        { s with Tasks = names |> List.mapi (fun i n -> CtrDsl.Data.LabelTask(n, [| i |], CtrDsl.Data.TaskLoss.Bce, 1.0f)) }

    /// Cases per property, and per backend property.
    let count (n: int) (backendTests: int) (s: LayerSpec) = { s with Tests = n; BackendTests = backendTests }

    /// Every property the spec declares enough for: forward and backward against the reference, the shape law,
    /// seeds, row independence, threads, field permutation for set-like layers, and each backend in Against.
    let tests (spec: LayerSpec) =
        testList
            spec.Name
            [ if spec.Reference.IsSome then
                  yield LayerProperty.forwardMatchesReference spec
                  yield LayerProperty.backwardMatchesFiniteDifferences spec
              if spec.Shape.IsSome then
                  yield LayerProperty.shapeFollowsLaw spec
              yield LayerProperty.sameSeedSameParameters spec
              yield LayerProperty.rowsAreIndependent spec
              yield LayerProperty.threadsAgree spec
              if spec.SetLike then
                  yield LayerProperty.fieldPermutationInvariant spec
              for backend, t in spec.Against -> LayerProperty.backendsAgree backend t spec ]
