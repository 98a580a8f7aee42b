namespace CtrDsl.Testing

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Cpu
open CtrDsl.Dsl
open CtrDsl.Models

/// A model under test: a declaration and the field layouts and input batches it is run on.
type ModelSpec =
    {
        Name: string
        Model: Expr
        Inputs: Arbitrary<Features * InputBatch>
        Tests: int
        /// Row independence compares one row alone with the same row in a batch; GEMMs of other heights sum in
        /// another order, so this is a tolerance, not bit for bit.
        Forward: Tolerance
        Against: (Backend * Tolerance) list
    }

/// Every zoo model with small settings, so a property runs through the whole list in seconds.
module Zoo =
    let small =
        [ "LR", LR.lr LR.LRParams.Defaults
          "FM", FM.fm { FM.FMParams.Defaults with Embedding.Dim = 4 }
          "FFM", FFM.ffm FFM.FFMParams.Defaults
          "FwFM", FwFM.fwfm { FwFM.FwFMParams.Defaults with Embedding.Dim = 4 }
          "FEFM", FEFM.fefm { FEFM.FEFMParams.Defaults with Embedding.Dim = 4 }
          "DNN", DNN.dnn { DNN.DNNParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16; 8 ] }
          "DeepFM", DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16; 8 ] }
          "WideDeep", WideDeep.wideDeep { WideDeep.WideDeepParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ] }
          "DeepFEFM", DeepFEFM.deepFEFM { DeepFEFM.DeepFEFMParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ] }
          "FGCNN",
          FGCNN.fgcnn
              { FGCNN.FGCNNParams.Defaults with
                  Embedding.Dim = 4
                  Conv =
                      { ConvGenerateOptions.paper with
                          Channels = [ 3; 4 ]
                          KernelHeights = [ 3; 3 ]
                          PoolSizes = [ 2; 2 ]
                          NewMaps = [ 2; 2 ] }
                  Mlp.Hidden = [ 16 ] }
          "IPNN", IPNN.ipnn { IPNN.IPNNParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ] }
          "OPNN", OPNN.opnn { OPNN.OPNNParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ] }
          "NFM", NFM.nfm { NFM.NFMParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ]; Mlp.BatchNorm = true }
          "AFM", AFM.afm { AFM.AFMParams.Defaults with Embedding.Dim = 4; AttentionDim = 4 }
          "DCN", DCN.dcn { DCN.DCNParams.Defaults with Embedding.Dim = 4; CrossLayers = 2; Mlp.Hidden = [ 16 ] }
          "DCNv2", DCNv2.dcnv2 { DCNv2.DCNv2Params.Defaults with Embedding.Dim = 4; CrossLayers = 2; Mlp.Hidden = [ 16 ] }
          "xDeepFM", xDeepFM.xdeepfm { xDeepFM.xDeepFMParams.Defaults with Embedding.Dim = 4; CinSizes = [ 6; 5 ]; Mlp.Hidden = [ 16 ] }
          "AutoInt", AutoInt.autoint { AutoInt.AutoIntParams.Defaults with Embedding.Dim = 4; Layers = 2; HeadDim = 4 }
          "AutoInt+", AutoInt.autoint { AutoInt.AutoIntParams.PlusDefaults with Embedding.Dim = 4; Layers = 1; HeadDim = 4; Mlp.Hidden = [ 16 ] }
          "FiBiNET", FiBiNET.fibinet { FiBiNET.FiBiNETParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ] }
          "ONN", ONN.onn { ONN.ONNParams.Defaults with Mlp.Hidden = [ 16 ] } ]

    /// One of the small zoo models.
    let model = Gen.elements small

/// Building a model for a layout and running it on a batch of inputs.
module ModelRun =
    /// Sets ids, numeric values, multi-valued ids and, on a training plan, labels (0/1 from `seed`), for the plan's
    /// batch rows taken from `rows` (row indices into the batch).
    let setInputs (plan: Plan) (m: BuiltModel) (b: InputBatch) (rows: int[]) (seed: int) (training: bool) =
        let take (width: int) (v: 'T[]) = rows |> Array.collect (fun r -> v[r * width .. r * width + width - 1])
        let rng = Random seed
        let tasks = max 1 m.Tasks.Length
        let labels = Array.init (b.Batch * tasks) (fun _ -> float32 (rng.Next 2))
        plan.Batch <- rows.Length

        for n in m.Inputs do
            if obj.ReferenceEquals(n, m.Label) then
                if training then
                    plan.SetInput(n, ReadOnlySpan(take tasks labels))
            elif n.Name = "ids" then
                plan.SetInput(n, ReadOnlySpan(take m.Features.IdFields.Length b.Ids))
            elif n.Name = "dense" then
                plan.SetInput(n, ReadOnlySpan(take m.Features.DenseFields.Length b.Dense))
            else
                let ids = b.Sequences |> List.find (fun (name, _) -> name = n.Name) |> snd
                plan.SetInput(n, ReadOnlySpan(take (ids.Length / b.Batch) ids))

    /// Forward (and backward when asked, in training mode) over the given rows: the output and each trainable
    /// parameter's gradient, row-sparse ones written out densely.
    let run (backend: IBackend) (backward: bool) (m: BuiltModel) (b: InputBatch) (rows: int[]) (seed: int) =
        let plan =
            if backward then
                Plan.Compile(m.Graph, backend, b.Batch, m.Loss, m.Output)
            else
                Plan.Compile(m.Graph, backend, b.Batch, null, m.Output)

        plan.Training <- backward
        plan.Seed <- uint64 seed
        setInputs plan m b rows seed backward
        plan.Forward()
        let y = Array.zeroCreate<float32> (rows.Length * max 1 m.Tasks.Length)
        plan.Read(m.Output, Span y)

        if backward then
            plan.Backward()

        let grad (p: CtrDsl.Tensors.Parameter) =
            match p.SparseGrad with
            | null -> Array.map float p.Grad
            | sg ->
                let d = Array.zeroCreate<float> p.Value.Length

                for s in 0 .. sg.Count - 1 do
                    let row = sg.Row s

                    for k in 0 .. sg.Dim - 1 do
                        d[sg.Rows[s] * sg.Dim + k] <- float row[k]

                d

        Array.map float y, (if backward then [ for p in m.TrainableParameters -> p, grad p ] else [])

/// The ready-made properties of a model (<see cref="ModelSpec"/>) over generated layouts and input batches.
module ModelProperty =
    let private property (spec: ModelSpec) (name: string) (check: Features -> InputBatch -> string option) =
        testPropertyWithConfig (PropertyConfig.ofTests spec.Tests) name (Prop.forAll spec.Inputs (fun (f, b) -> check f b |> Verdict.ofMessage))

    let private build (spec: ModelSpec) f seed = Model.build spec.Name f seed spec.Model
    let private all (b: InputBatch) = Array.init b.Batch id

    /// Two builds with one seed have bit-identical parameters, for any field layout.
    let sameSeedSameParameters (spec: ModelSpec) =
        property spec "the same seed gives the same parameters" (fun f _ ->
            let a, b = build spec f 7UL, build spec f 7UL

            Seq.zip a.Parameters b.Parameters
            |> Seq.tryPick (fun (pa, pb) ->
                if pa.Name = pb.Name && pa.Value = pb.Value then
                    None
                else
                    Some $"{spec.Name}: {pa.Name} differs between two builds with seed 7 on {f}"))

    /// In evaluation mode a row's score does not depend on the rows that share its batch: row 0 scored alone equals
    /// row 0 in the batch, and the batch in reverse order gives the scores in reverse order.
    let rowsAreIndependent (spec: ModelSpec) =
        property spec "a row's score does not depend on the other rows of its batch" (fun f b ->
            let m = build spec f 1UL
            let cpu () = Backend.create Backend.cpu
            let full, _ = ModelRun.run (cpu ()) false m b (all b) 1
            let alone, _ = ModelRun.run (cpu ()) false m b [| 0 |] 1
            let reversed, _ = ModelRun.run (cpu ()) false m b (Array.rev (all b)) 1

            Verdict.firstOf
                [ fun () -> Compare.first $"{spec.Name}: row 0 alone vs in its batch, score" spec.Forward [ 1 ] full[..0] alone
                  fun () -> Compare.first $"{spec.Name}: rows reversed vs in order, score" spec.Forward [ b.Batch ] full (Array.rev reversed) ])

    /// A training step's scores and gradients are bit-identical on one worker thread and on two.
    let threadsAgree (spec: ModelSpec) =
        property spec "one thread and two threads agree bit for bit" (fun f b ->
            let keep = WorkerPool.ThreadCount

            let runWith threads =
                WorkerPool.ThreadCount <- threads

                try
                    ModelRun.run (Backend.create Backend.cpu) true (build spec f 1UL) b (all b) 1
                finally
                    WorkerPool.ThreadCount <- keep

            let (y1, g1), (y2, g2) = runWith 1, runWith 2

            Verdict.firstOf
                [ yield fun () -> Compare.first $"{spec.Name} 1 vs 2 threads, scores" Tolerance.exact [ b.Batch ] y1 y2
                  for (p, a), (_, c) in List.zip g1 g2 ->
                      fun () -> Compare.first $"{spec.Name} 1 vs 2 threads, d/d{p.Name}" Tolerance.exact (List.ofArray p.Shape) a c ])

    /// The plan's gradient-ready callback (what data-parallel training starts a bucket's all-reduce from) fires once
    /// for every dense trainable parameter, in `GradientOrder`, and the gradient it sees is the one the whole backward
    /// pass leaves, bit for bit.
    let gradientsReadyWhenFinal (spec: ModelSpec) =
        property spec "the gradient-ready callback sees every dense gradient once, final" (fun f b ->
            let m = build spec f 1UL
            let plan = Plan.Compile(m.Graph, Backend.create Backend.cpu, b.Batch, m.Loss, m.Output)
            plan.Training <- true
            plan.Seed <- 1UL
            let seen = Collections.Generic.List<CtrDsl.Tensors.Parameter * float32[]>()
            plan.GradientReady <- Action<_>(fun p -> seen.Add((p, Array.copy p.Grad)))
            ModelRun.setInputs plan m b (all b) 1 true
            plan.Forward()
            plan.Backward()
            let order = [ for p, _ in seen -> p.Name ]

            let dense =
                [ for p in plan.Parameters do
                      if not p.IsSparse then
                          p.Name ]

            if order <> [ for p in plan.GradientOrder -> p.Name ] then
                Some $"{spec.Name}: the callback's order {order} is not GradientOrder"
            elif List.sort order <> List.sort dense then
                Some $"{spec.Name}: the callback saw {order}, the dense trainable parameters are {dense}"
            else
                seen
                |> Seq.tryPick (fun (p, early) ->
                    if early = p.Grad then
                        None
                    else
                        Some $"{spec.Name}: d/d{p.Name} when the callback fired differs from the end of the backward pass"))

    /// A training step on the backend agrees with the CPU's within `t`: scores and every gradient. Pending when the
    /// backend cannot be made here, unless CTRDSL_REQUIRE_OPENCL=1.
    let backendsAgree (backend: Backend) (t: Tolerance) (spec: ModelSpec) =
        let name = $"{backend.Name} agrees with the CPU within {t.Atol} + {t.Rtol}·|cpu|"

        match backend.Create() with
        | Error why when not (Backend.required ()) -> ptestCase $"{name} (pending: {why})" ignore
        | _ ->
            property spec name (fun f b ->
                let yc, gc = ModelRun.run (Backend.create Backend.cpu) true (build spec f 1UL) b (all b) 1
                let yo, go = ModelRun.run (Backend.create backend) true (build spec f 1UL) b (all b) 1

                Verdict.firstOf
                    [ yield fun () -> Compare.first $"{spec.Name} {backend.Name} vs CPU, scores" t [ b.Batch ] yc yo
                      for (p, a), (_, c) in List.zip gc go ->
                          fun () -> Compare.first $"{spec.Name} {backend.Name} vs CPU, d/d{p.Name}" t (List.ofArray p.Shape) a c ])

/// Declaring a model under test and turning it into Expecto tests.
module ModelCheck =
    /// A model on layouts of 4, 5 or 8 id fields (enough for FGCNN's pooling), numeric and multi-valued fields, and
    /// batches with duplicate, OOV and padded ids; 10 cases a property.
    let spec (name: string) (model: Expr) =
        { Name = name
          Model = model
          Inputs = Arb.fromGen (Gens.featuresWithInputs (Gens.featuresOf [ 4; 5; 8 ]))
          Tests = 10
          Forward = Tolerance.forward
          Against = [] }

    /// Also checks that `backend` agrees with the CPU within `t`.
    let against (backend: Backend) (t: Tolerance) (s: ModelSpec) = { s with Against = s.Against @ [ backend, t ] }

    /// Cases per property.
    let count (n: int) (s: ModelSpec) = { s with Tests = n }

    /// Seeds, row independence, threads and each backend in Against.
    let tests (spec: ModelSpec) =
        testList
            spec.Name
            [ yield ModelProperty.sameSeedSameParameters spec
              yield ModelProperty.rowsAreIndependent spec
              yield ModelProperty.threadsAgree spec
              yield ModelProperty.gradientsReadyWhenFinal spec
              for backend, t in spec.Against -> ModelProperty.backendsAgree backend t spec ]
