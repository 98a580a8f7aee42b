/// The node-level pieces that several combinators share: an embedding table, a dense layer, an activation. They add
/// nodes to the build in the current scope; combinators wrap them in blocks.
module internal CtrDsl.Dsl.Layers

open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Ops
open CtrDsl.Tensors

let apply (b: Build) (op: Op) (inputs: Node list) = b.Graph.Apply(op, List.toArray inputs)

/// The block's scope, for messages.
let scope (b: Build) =
    match b.Graph.CurrentScope with
    | null -> "dense"
    | s -> s

/// The embedding table [rows; k]: N(0, std) rows, row-sparse gradients, the options' L2 on looked-up rows.
let table (b: Build) (o: EmbedOptions) =
    b.Param("table", [ b.Features.TableRows; o.Dim ], Initializer.Normal(0.0f, o.Std), "embedding", sparse = true, l2 = o.L2)

/// x·W + b over the last axis of x [batch; …; n], initialised as PyTorch's nn.Linear.
let positionwise (b: Build) (name: string) (units: int) (l2: float32) (x: Node) =
    let n = x.Shape[x.Shape.Rank - 1]
    let w = b.Param(name + ".weight", [ n; units ], Initializer.TorchLinearWeight(), "dnn", l2 = l2)
    let bias = b.Param(name + ".bias", [ units ], Initializer.TorchLinearBias(n), "dnn")
    apply b (Linear()) [ x; w; bias ]

/// A dense layer on [batch; n].
let dense (b: Build) (name: string) (units: int) (l2: float32) (x: Node) =
    if x.Shape.Rank <> 2 then
        raise (ShapeException($"{scope b}: expected [batch; n], got {x.Shape}"))

    positionwise b name units l2 x

/// An activation over the last axis of x [batch; …; n]. PReLU learns one slope per feature (0.25 at first). Dice
/// (Zhou 2018, DIN) is p·x + (1 − p)·α·x with p = sigmoid of x normalised per feature over the batch (a batch norm
/// without scale and shift, eps 1e-9, momentum 0.01, as FuxiCTR's Dice) and α learned per feature, 0 at first.
let activate (b: Build) (a: Activation) (name: string) (x: Node) =
    let n = x.Shape[x.Shape.Rank - 1]

    match a with
    | Relu -> apply b (CtrDsl.Ops.Relu()) [ x ]
    | Tanh -> apply b (CtrDsl.Ops.Tanh()) [ x ]
    | Sigmoid -> apply b (CtrDsl.Ops.Sigmoid()) [ x ]
    | NoActivation -> x
    | PRelu ->
        let slope = b.Param(name + ".prelu", [ n ], Initializer.Constant(0.25f), "dnn")
        apply b (CtrDsl.Ops.PRelu()) [ x; slope ]
    | Dice ->
        let one = b.State(name + ".dice.scale", [ n ], 1.0f)
        let zero = b.State(name + ".dice.shift", [ n ], 0.0f)
        let mean = b.State(name + ".dice.running_mean", [ n ], 0.0f)
        let var = b.State(name + ".dice.running_var", [ n ], 1.0f)
        let alpha = b.Param(name + ".dice.alpha", [ n ], Initializer.Zeros(), "dnn")
        let p = apply b (Sigmoid()) [ apply b (BatchNorm(1e-9f, 0.01f)) [ x; one; zero; mean; var ] ]
        let px = apply b (Mul()) [ p; x ]
        apply b (Add()) [ px; apply b (Mul()) [ apply b (Sub()) [ x; px ]; alpha ] ]
