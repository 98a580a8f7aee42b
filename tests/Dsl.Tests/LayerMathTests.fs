/// The combinators' math through the kit: each against its float64 reference and central differences, its shape
/// law, seeds, row independence, threads, and field permutation for the set-like ones.
module CtrDsl.Dsl.Tests.LayerMathTests

open CtrDsl.Dsl
open CtrDsl.Testing

module R = CtrDsl.Dsl.Tests.Reference

let private pairCount (c: LayerCase) = c.Fields * (c.Fields - 1) / 2
let private flat (c: LayerCase) = c.Fields * c.Dim

let private mathOf name layer reference law = Layer.spec name layer |> Layer.reference reference |> Layer.shape law

/// One hidden layer per activation.
let private activations =
    [ for a in [ Relu; Tanh; Sigmoid; PRelu; Dice ] ->
          mathOf $"layers [4] with {a}" (flatten >> layers { MlpOptions.hidden [ 4 ] with Activation = a }) (R.hidden 4 a) (fun _ -> [ 4 ]) ]

/// Every combinator over x [batch; fields; dim] with a reference, and those checked by the other properties only.
let specs =
    [ yield mathOf "fm" fm R.fm (fun _ -> [ 1 ]) |> Layer.setLike
      yield mathOf "biInteraction" biInteraction R.biInteraction (fun c -> [ c.Dim ]) |> Layer.setLike
      yield mathOf "innerProduct" innerProduct R.innerProduct (fun c -> [ pairCount c ])
      yield mathOf "fwfm" fwfm R.fwfm (fun _ -> [ 1 ]) |> Layer.cases [ 2; 3; 5; 7 ] Sizes.awkward
      yield mathOf "fefm" fefm R.fefm (fun c -> [ pairCount c ])
      yield mathOf "reduceSum of flatten" (flatten >> reduceSum) R.sumAll (fun _ -> [ 1 ]) |> Layer.setLike
      yield mathOf "flatten" flatten (fun v -> v.X) (fun c -> [ flat c ])
      yield
          mathOf "selectFields [2; 0; 1]" (selectFields [ 2; 0; 1 ]) (R.selectFields [ 2; 0; 1 ]) (fun c -> [ 3; c.Dim ])
          |> Layer.cases [ 3; 5; 7 ] Sizes.awkward
      yield
          mathOf
              "excludeFields [1]"
              (excludeFields [ 1 ])
              (fun v ->
                  R.selectFields
                      [ for f in 0 .. v.Case.Fields - 1 do
                            if f <> 1 then
                                f ]
                      v)
              (fun c -> [ c.Fields - 1; c.Dim ])
          |> Layer.cases [ 3; 5; 7 ] Sizes.awkward
      yield mathOf "concatFields of x twice" (fun x -> concatFields [ x; x ]) R.concatFieldsTwice (fun c -> [ 2 * c.Fields; c.Dim ])
      yield mathOf "concat of flatten twice" (fun x -> concat [ flatten x; flatten x ]) R.concatFieldsTwice (fun c -> [ 2 * flat c ])
      yield
          mathOf
              "sum of fm and reduceSum"
              (fun x -> sum [ fm x; x |> flatten |> reduceSum ])
              (fun v -> Array.map2 (+) (R.fm v) (R.sumAll v))
              (fun _ -> [ 1 ])
      yield mathOf "weightedSum" (flatten >> weightedSum) R.weightedSum (fun _ -> [ 1 ])
      yield mathOf "denseLayer 3" (flatten >> denseLayer 3) (R.denseLayer 3) (fun _ -> [ 3 ])
      yield! activations
      yield mathOf "mlp [5]" (flatten >> mlp [ 5 ]) (R.mlp 5) (fun _ -> [ 1 ])
      yield mathOf "outerProduct" outerProduct R.outerProduct (fun c -> [ c.Dim * c.Dim ]) |> Layer.setLike
      yield mathOf "cross VectorCross 2" (flatten >> cross VectorCross 2) (R.cross false 2) (fun c -> [ flat c ])
      yield mathOf "cross MatrixCross 2" (flatten >> cross MatrixCross 2) (R.cross true 2) (fun c -> [ flat c ])
      yield mathOf "bilinear FieldAll" (bilinear FieldAll) (R.bilinear (fun _ _ _ -> 0)) (fun c -> [ pairCount c; c.Dim ])
      yield mathOf "bilinear FieldEach" (bilinear FieldEach) (R.bilinear (fun i _ _ -> i)) (fun c -> [ pairCount c; c.Dim ])
      yield mathOf "bilinear FieldInteraction" (bilinear FieldInteraction) (R.bilinear (fun _ _ p -> p)) (fun c -> [ pairCount c; c.Dim ])
      yield mathOf "senet 2" (senet 2) (R.senet 2) (fun c -> [ c.Fields; c.Dim ])
      // Checked against the core's op references in Core.Tests; here the laws that need no reference.
      yield Layer.spec "cin [3; 2]" (cin [ 3; 2 ]) |> Layer.shape (fun _ -> [ 5 ])
      yield
          Layer.spec "selfAttention 2×3 residual" (selfAttention { Heads = 2; HeadDim = 3; Residual = true })
          |> Layer.shape (fun c -> [ c.Fields; 6 ])
      yield
          Layer.spec "attentionPooling 4" (attentionPooling 4)
          |> Layer.shape (fun c -> [ c.Dim ])
          |> Layer.setLike
          |> Layer.cases [ 2; 3; 5; 7 ] Sizes.awkward ]
    |> List.map (Layer.against Backend.openCl Tolerance.backends)

let tests = Expecto.Tests.testList "layer math" (specs |> List.map Layer.tests)
