module CtrDsl.Dsl.Tests.ModelTests

open System
open Expecto
open CtrDsl.Testing
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Dsl.Tests.Support


let private zoo = CtrDsl.Testing.Zoo.small

/// Trains `steps` Adam steps (with dropout where the model has it) and returns the parameters and the plan's bytes.
let private trainedParameters (m: BuiltModel) (ids: int[]) (labels: float32[]) batch steps =
    let plan = trainingPlan m ids labels batch
    let adam = CtrDsl.Optim.Adam(plan.Parameters, 0.02f)
    train plan adam steps
    let logits = Array.zeroCreate<float32> batch
    plan.Read(m.Output, Span logits)
    [| for p in m.Parameters -> Array.copy p.Value |], logits, plan.AllocatedBytes


let tests =
    testList
        "models"
        [ testCase "DeepFEFM with every switch off but linear equals LR"
          <| fun () ->
              let f = features 6 4
              let onlyLinear = { DeepFEFM.DeepFEFMParams.Defaults with UseFefm = false; Mlp.Hidden = []; UseLinear = true }
              let a = Model.build "DeepFEFM" f 3UL (DeepFEFM.deepFEFM onlyLinear)
              let b = Model.build "LR" f 3UL (LR.lr LR.LRParams.Defaults)
              Expect.equal (a.ParameterCount) (b.ParameterCount) "count"
              // Give both the same non-zero weights, then compare outputs.
              let rng = Random 5

              for pa, pb in Seq.zip a.TrainableParameters b.TrainableParameters do
                  for i in 0 .. pa.Value.Length - 1 do
                      let v = float32 (rng.NextDouble() - 0.5)
                      pa.Value[i] <- v
                      pb.Value[i] <- v

              let ids = randomIds (Random 9) f 11
              Expect.equal (forward a ids 11) (forward b ids 11) "values"
          testCase "DeepFEFM with every part off is an error"
          <| fun () ->
              let none = { DeepFEFM.DeepFEFMParams.Defaults with UseFefm = false; Mlp.Hidden = []; UseLinear = false }
              throws<ArgumentException> (fun () -> DeepFEFM.deepFEFM none |> ignore) |> ignore
          testCase "a model built twice with one seed has identical parameters"
          <| fun () ->
              let f = features 9 7
              let build () = Model.build "DeepFM" f 42UL (DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Mlp.Hidden = [ 16; 8 ] })
              let a, b = build (), build ()

              for pa, pb in Seq.zip a.Parameters b.Parameters do
                  Expect.equal (pb.Name) (pa.Name) "count"
                  Expect.equal (pb.Value) (pa.Value) "values"

              let c = Model.build "DeepFM" f 43UL (DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Mlp.Hidden = [ 16; 8 ] })
              let table (m: BuiltModel) = m.Parameters |> Seq.find (fun p -> p.Group = "embedding")
              Expect.notEqual ((table c).Value) ((table a).Value) "values"
          testCase "FGCNN classifier field count matches the paper's arithmetic on 39 fields"
          <| fun () ->
              // Pooled heights 19/9/4/2 with 3 new maps each: 57 + 27 + 12 + 6 = 102 generated, 141 in all.
              Expect.equal (FGCNN.classifierFields FGCNN.FGCNNParams.Defaults 39) (141) "count"
          testCase "FGCNN with too few fields for its pooling fails clearly"
          <| fun () ->
              let f = features 6 2

              let ex =
                  throws<CtrDsl.Tensors.ShapeException> (fun () -> Model.build "FGCNN" f 1UL (FGCNN.fgcnn FGCNN.FGCNNParams.Defaults) |> ignore)

              Expect.stringContains ex.Message "too few fields for pooling" "message"
          testCase "every zoo model learns a planted pairwise signal"
          <| fun () ->
              // Six fields of five ids; the click depends on whether fields 0 and 1 agree, which no single id predicts.
              let f = features 6 5
              let batch = 128
              let rng = Random 11
              let ids = randomIds rng f batch
              let labels = Array.init batch (fun r -> if ids[r * 6] % 5 = (ids[r * 6 + 1] - 5) % 5 then 1.0f else 0.0f)

              for name, expr in zoo do
                  let m = Model.build name f 1UL expr
                  let plan = trainingPlan m ids labels batch
                  let adam = CtrDsl.Optim.Adam(plan.Parameters, 0.02f)
                  plan.Forward()
                  let first = plan.ReadScalar m.Loss
                  train plan adam 150
                  plan.Forward()
                  let last = plan.ReadScalar m.Loss
                  // LR cannot see the agreement of two fields (it stays near 0.44); every interaction model memorises it.
                  let bound = if name = "LR" then 0.9f * first else 0.1f
                  Expect.isTrue (Single.IsFinite last && last < bound) $"{name}: loss {first} → {last}, expected below {bound}"
          testCase "every zoo model builds on Criteo-shaped features and describes itself"
          <| fun () ->
              let f = features 39 10

              for name, expr in zoo do
                  let m = Model.build name f 1UL expr
                  let text = Describe.text m
                  Expect.stringContains text name "message"
                  Expect.stringContains text $"{m.ParameterCount:N0}" "message"
              // DeepFM's parameter count by hand: 390 linear rows + bias, 390×10 embedding, MLP 390·400+400 + 2·(400·400+400) + 400+1.
              let deepFM = Model.build "DeepFM" f 1UL (DeepFM.deepFM DeepFM.DeepFMParams.Defaults)
              Expect.equal (deepFM.ParameterCount) (390L + 1L + 3900L + (390L * 400L + 400L) + 2L * (400L * 400L + 400L) + 401L) "count"
          testCase "ONN's MLP reads fields·k copies and one field-aware product per pair"
          <| fun () ->
              // 39 fields of 10 rows, k = 2: a copy table 390×2, a field-aware table 390×(39·2), then an MLP from
              // 39·2 + 741 pair products = 819 inputs through 64-64-64 to one logit.
              let m = Model.build "ONN" (features 39 10) 1UL (ONN.onn ONN.ONNParams.Defaults)
              let mlp = (819L * 64L + 64L) + 2L * (64L * 64L + 64L) + 65L
              Expect.equal (m.ParameterCount) (390L * 2L + 390L * 78L + mlp) "count"
          testCase "every zoo model trains bit for bit with its training buffers shared by lifetime"
          <| fun () ->
              // The training plan lays out values, scratch and gradients on one timeline and lets buffers whose lifetimes do
              // not overlap share memory. An op that read a value its backward had declared unneeded, or a lifetime cut short,
              // would change the trained parameters; with sharing off (Plan.NoReuse) every node keeps buffers of its own.
              let f = features 6 5
              let batch = 32
              let rng = Random 3
              let ids = randomIds rng f batch
              let labels = Array.init batch (fun _ -> float32 (rng.Next 2))

              let withDropout =
                  [ "DeepFM+dropout",
                    DeepFM.deepFM { DeepFM.DeepFMParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16; 8 ]; Mlp.Dropout = 0.3f }
                    "NFM+dropout",
                    NFM.nfm { NFM.NFMParams.Defaults with Embedding.Dim = 4; Mlp.Hidden = [ 16 ]; Mlp.BatchNorm = true; Mlp.Dropout = 0.2f } ]

              for name, expr in zoo @ withDropout do
                  let run reuse =
                      CtrDsl.Autodiff.Plan.NoReuse <- not reuse

                      try
                          trainedParameters (Model.build name f 1UL expr) ids labels batch 4
                      finally
                          CtrDsl.Autodiff.Plan.NoReuse <- false

                  let separate, separateLogits, separateBytes = run false
                  let shared, sharedLogits, sharedBytes = run true
                  Expect.equal (sharedLogits) (separateLogits) "values"

                  for a, b in Array.zip separate shared do
                      Expect.equal (b) (a) "values"

                  Expect.isTrue (sharedBytes <= separateBytes) $"{name}: shared {sharedBytes} bytes, separate {separateBytes}"
          testCase "every zoo model trains the same with its layers fused as without"
          <| fun () ->
              // Fusion runs a ReLU in its linear layer's GEMM epilogue and lets a linear layer read the blocks of the concat
              // before it (IPNN's and FGCNN's [embeddings; pair products]) instead of building it. Blocked GEMMs sum in another
              // order, so the two agree to rounding, not bit for bit. SGD keeps a parameter's change proportional to its
              // gradient, so a wrong gradient block shows in the parameters.
              let f = features 6 5
              let batch = 32
              let rng = Random 4
              let ids = randomIds rng f batch
              let labels = Array.init batch (fun _ -> float32 (rng.Next 2))

              for name, expr in zoo do
                  let run fuse =
                      CtrDsl.Autodiff.Plan.NoFusion <- not fuse

                      try
                          let m = Model.build name f 1UL expr
                          let plan = trainingPlan m ids labels batch
                          let sgd = CtrDsl.Optim.Sgd(plan.Parameters, 0.5f)
                          train plan sgd 3
                          let concats = m.Graph.Nodes |> Seq.filter (fun n -> n.Op :? CtrDsl.Ops.Concat) |> Seq.toList

                          let absorbed =
                              concats
                              |> List.filter (fun n ->
                                  (try
                                      plan.ValueOf n |> ignore
                                      false
                                   with :? ArgumentException ->
                                       true))

                          [| for p in m.Parameters -> Array.copy p.Value |], absorbed.Length
                      finally
                          CtrDsl.Autodiff.Plan.NoFusion <- false

                  let separate, noneAbsorbed = run false
                  let fused, absorbed = run true
                  Expect.equal (noneAbsorbed) (0) "count"

                  if name = "IPNN" || name = "FGCNN" then
                      Expect.isTrue (absorbed > 0) $"{name}: no concat was fused into its linear layer"

                  for a, b in Array.zip separate fused do
                      close name 1e-4 1e-6 a b ]
