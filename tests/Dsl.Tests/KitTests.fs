/// The kit's properties can fail: each is pointed at a layer that breaks it and must report a shrunk case.
module CtrDsl.Dsl.Tests.KitTests

open Expecto
open CtrDsl.Backends
open CtrDsl.Dsl
open CtrDsl.Ops
open CtrDsl.Tensors
open CtrDsl.Testing

/// y = 2x with a backward that forgets the 2.
[<Sealed>]
type private BrokenDouble() =
    inherit Op()
    override _.Name = "broken_double"
    override _.Arity = 1
    override _.Infer(inputs) = inputs[0].Shape

    override _.Forward(b: IBackend, c: NodeContext) =
        b.Fill(c.Out, 0.0f)
        b.Axpy(2.0f, c.In 0, c.Out)

    override _.Backward(b: IBackend, c: NodeContext) =
        if c.WantsGrad 0 then
            b.Axpy(1.0f, c.DOut, c.DIn 0)

let private brokenDouble (e: Expr) = Expr.make "broken_double" (fun b -> b.Graph.Apply(BrokenDouble(), [| b.Eval e |]))

/// The failure message of the spec's one property of that name; fails when the property passes.
let private failureOf (property: LayerSpec -> Test) (spec: LayerSpec) =
    let t = testList spec.Name [ property spec ]

    try
        Runner.runOne t (List.exactlyOne (Runner.names t)) |> ignore
        failtest $"{spec.Name}: the property passed on a broken layer"
    with
    | :? AssertException -> reraise ()
    | e -> e.Message

let private expectShrunk (message: string) (case: string) =
    Expect.stringContains message "Shrunk" "the failure shows the shrunk case"
    Expect.stringContains message case "the smallest failing case"

let tests =
    testList
        "kit"
        [ testCase "a backward that forgets a factor fails against central differences, shrunk to one value"
          <| fun () ->
              let spec = Layer.spec "double" brokenDouble |> Layer.reference (fun v -> Array.map ((*) 2.0) v.X)
              let message = failureOf LayerProperty.backwardMatchesFiniteDifferences spec
              expectShrunk message "batch 1, fields 1, dim 1, seed 0"
              Expect.stringContains message "d/dx at x[0; 0; 0]" "the offending coordinate"

          testCase "a wrong reference fails the forward property with both values"
          <| fun () ->
              let spec = Layer.spec "flatten" flatten |> Layer.reference (fun v -> Array.map ((*) 3.0) v.X)
              let message = failureOf LayerProperty.forwardMatchesReference spec
              expectShrunk message "batch 1, fields 1, dim 1, seed 0"
              Expect.stringContains message "reference [[" "the reference's values"

          testCase "a wrong shape law fails with both shapes"
          <| fun () ->
              let spec = Layer.spec "fm" fm |> Layer.shape (fun c -> [ c.Dim ])
              let message = failureOf LayerProperty.shapeFollowsLaw spec
              Expect.stringContains message "declared [batch] @ [2], built [1; 1]" "the shrunk case's shapes"

          testCase "innerProduct declared set-like fails on three fields"
          <| fun () ->
              let spec = Layer.spec "innerProduct" innerProduct |> Layer.setLike
              let message = failureOf LayerProperty.fieldPermutationInvariant spec
              expectShrunk message "fields 3" ]
