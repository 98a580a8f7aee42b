module CtrDsl.Dsl.Tests.CombinatorTests

open System
open Expecto
open CtrDsl.Testing
open FsCheck.FSharp
open CtrDsl.Backends
open CtrDsl.Dsl
open CtrDsl.Tensors
open CtrDsl.Dsl.Tests.Support

let private cases =
    gen {
        let! fields = Gen.elements [ 1; 2; 3; 5; 8; 13 ]
        let! dim = Gen.elements [ 1; 2; 7; 8; 9; 16; 17 ]
        let! batch = Gen.elements [ 1; 3; 17 ]
        let! seed = Gen.choose (0, 1_000_000)
        return fields, dim, batch, seed
    }


let private convCases =
    gen {
        let! fields = Gen.choose (2, 40)
        let! layers = Gen.choose (1, 3)
        let! pools = Gen.listOfLength layers (Gen.elements [ 1; 2; 3 ])
        let! maps = Gen.listOfLength layers (Gen.choose (1, 3))
        let! heights = Gen.listOfLength layers (Gen.elements [ 1; 2; 3; 7 ])
        let! ceil = Gen.elements [ true; false ]
        return fields, pools, maps, heights, ceil
    }


let tests =
    testList
        "combinators"
        [ property "fm equals the sum of the innerProduct outputs" 25 cases (fun (fields, dim, batch, seed) ->
              let f = features fields 5
              let e = embedWith { EmbedOptions.dim dim with Std = 0.5f }
              let viaFm = Model.build "fm" f (uint64 seed) (fm e)
              let viaInner = Model.build "inner" f (uint64 seed) (innerProduct e |> reduceSum)
              // Same seed and the same block names under different roots: copy the table so both read the same values.
              viaInner.Parameters[0].Value.AsSpan().Clear()
              viaFm.Parameters[0].Value.CopyTo(viaInner.Parameters[0].Value, 0)
              let ids = randomIds (Random seed) f batch
              close "fm vs Σ inner" 1e-4 1e-5 (forward viaInner ids batch) (forward viaFm ids batch))
          property "fefm with every W_ij = I/2 equals fm" 25 cases (fun (fields, dim, batch, seed) ->
              let f = features fields 5
              let e = embedWith { EmbedOptions.dim dim with Std = 0.5f }
              let viaFm = Model.build "m" f (uint64 seed) (fm e)
              let viaFefm = Model.build "m" f (uint64 seed) (fefm e |> reduceSum)
              // The same seed and names give the same table. The form is e_iᵀ(W + Wᵀ)e_j with W the parameter, so W = I/2
              // gives ⟨e_i, e_j⟩.
              let u = viaFefm.Parameters |> Seq.find (fun p -> p.Name.EndsWith "field_pairs")
              u.Value.AsSpan().Clear()

              for p in 0 .. u.Shape[0] - 1 do
                  for k in 0 .. dim - 1 do
                      u.Value[(p * dim + k) * dim + k] <- 0.5f

              let ids = randomIds (Random seed) f batch
              close "fefm(I/2) vs fm" 1e-4 1e-5 (forward viaFm ids batch) (forward viaFefm ids batch))
          testCase "one embedding value used twice shares one table"
          <| fun () ->
              let f = features 4 3
              let e = embed 5
              let m = Model.build "m" f 1UL (sum [ fm e; e |> flatten |> mlp [ 3 ] ])
              let tables = m.Parameters |> Seq.filter (fun p -> p.IsSparse) |> Seq.length
              Expect.equal tables 1 "sparse tables"
          testCase "mlp over unflattened embeddings fails when built, naming the block and shapes"
          <| fun () ->
              let f = features 26 3
              let e = embed 10
              let ex = throws<ShapeException> (fun () -> Model.build "DeepFM" f 1UL (sum [ fm e; e |> mlp [ 400 ] ]) |> ignore)
              Expect.stringContains ex.Message "mlp: expected [batch; n], got [batch; 26; 10]" "message"
          testCase "selectFields keeps the listed fields in order"
          <| fun () ->
              let f = features 5 2
              let e = embedWith { EmbedOptions.dim 3 with Std = 1.0f }
              let picked = [ 3; 0; 1 ]
              let m = Model.build "m" f 7UL (concat [ e |> flatten; e |> selectFields picked |> flatten ] |> reduceSum)

              let plan =
                  CtrDsl.Autodiff.Plan.Compile(
                      m.Graph,
                      new CtrDsl.Cpu.CpuBackend(),
                      2,
                      null,
                      m.Graph.Nodes |> Seq.filter (fun n -> n.Name = "concat") |> Seq.last
                  )

              let ids = randomIds (Random 3) f 2
              plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan ids)
              plan.Forward()
              let y = plan.Output(m.Graph.Nodes |> Seq.filter (fun n -> n.Name = "concat") |> Seq.last)

              for b in 0..1 do
                  picked
                  |> List.iteri (fun j field ->
                      for k in 0..2 do
                          Expect.equal (y[b, 15 + j * 3 + k]) (y[b, field * 3 + k]) $"row {b}, field {field}, k {k}")
          property "convGenerate produces the formula's number of fields" 40 convCases (fun (fields, pools, maps, heights, ceil) ->
              let rounding = if ceil then PoolRounding.Ceil else PoolRounding.Floor
              // The count written out independently of the library: each layer pools the previous height.
              let mutable height = fields
              let mutable expected = 0
              let mutable possible = true

              for p, m in List.zip pools maps do
                  height <- (if ceil then (height + p - 1) / p else height / p)

                  if height < 1 then
                      possible <- false

                  expected <- expected + m * height

              let o =
                  { Channels = List.replicate pools.Length 2
                    KernelHeights = heights
                    PoolSizes = pools
                    NewMaps = maps
                    Rounding = rounding }

              let f = features fields 2
              let build () = Model.build "g" f 1UL (convGenerate o (embed 4) |> flatten |> mlp [])

              if possible then
                  let m = build ()
                  let generated = m.Graph.Nodes |> Seq.filter (fun n -> n.Scope <> null && n.Scope.EndsWith "conv_generate") |> Seq.last
                  Expect.equal generated.Shape[1] expected "generated fields"
              else
                  let ex = throws<ShapeException> (fun () -> build () |> ignore)
                  Expect.stringContains ex.Message "too few fields for pooling" "message")
          testCase "crossProduct learns an AND of two fields that linear cannot"
          <| fun () ->
              let f = features 4 6
              let batch = 256
              let rng = Random 4
              let ids = randomIds rng f batch
              // Click exactly when C1 and C2 both hold their first id.
              let labels = Array.init batch (fun r -> if ids[r * 4] = 0 && ids[r * 4 + 1] = 6 then 1.0f else 0.0f)

              let trainedLoss expr =
                  let m = Model.build "m" f 1UL expr
                  let plan = trainingPlan m ids labels batch
                  let adam = CtrDsl.Optim.Adam(plan.Parameters, 0.1f)
                  train plan adam 300
                  plan.Forward()
                  plan.ReadScalar m.Loss

              let withCross = trainedLoss (sum [ linear; crossProduct [ [ "C1"; "C2" ] ] 1000 ])
              let linearOnly = trainedLoss linear
              Expect.isTrue (withCross < 0.05f && linearOnly > 2.0f * withCross) $"cross {withCross}, linear {linearOnly}"
          testCase "crossProduct names a missing field"
          <| fun () ->
              let ex =
                  throws<ArgumentException> (fun () -> Model.build "m" (features 2 2) 1UL (crossProduct [ [ "C1"; "gender" ] ] 10) |> ignore)

              Expect.stringContains ex.Message "no id field named gender" "message" ]
