namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Ops

type Activation =
    | Relu
    | Tanh
    | Sigmoid
    | PRelu
    | NoActivation

type EmbedOptions = { Dim: int; Std: float32; L2: float32 }

type MlpOptions =
    { Hidden: int list
      Activation: Activation
      Dropout: float32
      BatchNorm: bool
      L2: float32 }

type FefmOptions = { Std: float32; L2: float32 }

type ConvGenerateOptions =
    { Channels: int list
      KernelHeights: int list
      PoolSizes: int list
      NewMaps: int list
      Rounding: PoolRounding }

module EmbedOptions =
    let dim k = { Dim = k; Std = 0.01f; L2 = 0.0f }

module MlpOptions =
    let hidden sizes =
        { Hidden = sizes; Activation = Relu; Dropout = 0.0f; BatchNorm = false; L2 = 0.0f }

module FefmOptions =
    let defaults = { Std = 0.01f; L2 = 0.0f }

module ConvGenerateOptions =
    let paper =
        { Channels = [ 14; 16; 18; 20 ]
          KernelHeights = [ 7; 7; 7; 7 ]
          PoolSizes = [ 2; 2; 2; 2 ]
          NewMaps = [ 3; 3; 3; 3 ]
          Rounding = PoolRounding.Floor }

    let generatedFields (o: ConvGenerateOptions) (fields: int) =
        (fields, List.zip o.PoolSizes o.NewMaps)
        ||> List.mapFold (fun height (p, maps) ->
            let pooled = FieldMaxPool.OutFields(height, p, o.Rounding)
            maps * pooled, pooled)
        |> fst

[<AutoOpen>]
module Combinators =
    let private apply (b: Build) (op: Op) (inputs: Node list) = b.Graph.Apply(op, List.toArray inputs)

    let named name e = Expr.named name e

    let embedWith (o: EmbedOptions) =
        Expr.make "embed" (fun b ->
            let f = b.Features
            let table =
                b.Param("table", [ f.TableRows; o.Dim ], Initializer.Normal(0.0f, o.Std), "embedding", sparse = true, l2 = o.L2)
            let parts =
                [ if not f.IdFields.IsEmpty then
                      yield apply b (Embedding()) [ b.Ids; table ]
                  for s in f.Sequences do
                      let pooled = apply b (EmbeddingBag(s.Pooling)) [ b.Sequence s; table ]
                      yield apply b (Reshape(1, o.Dim)) [ pooled ] ]
            match parts with
            | [] -> invalidArg "features" "embed: the features have no id or multi-valued fields"
            | [ one ] -> one
            | many -> apply b (Concat(1)) many)

    let embed dim = embedWith (EmbedOptions.dim dim)

    let linearWith (l2: float32) =
        Expr.make "linear" (fun b ->
            let f = b.Features
            let needsTable = not f.IdFields.IsEmpty || not f.Sequences.IsEmpty
            let weights =
                if needsTable then
                    Some(b.Param("weight", [ f.TableRows; 1 ], Initializer.Zeros(), "linear", sparse = true, l2 = l2))
                else None
            let terms =
                [ match weights with
                  | Some w when not f.IdFields.IsEmpty ->
                      yield apply b (Sum(1)) [ apply b (Embedding()) [ b.Ids; w ] ]
                  | _ -> ()
                  match weights with
                  | Some w ->
                      for s in f.Sequences do
                          yield apply b (EmbeddingBag(s.Pooling)) [ b.Sequence s; w ]
                  | None -> ()
                  if not f.DenseFields.IsEmpty then
                      let wd = b.Param("dense_weight", [ f.DenseFields.Length; 1 ], Initializer.Zeros(), "linear", l2 = l2)
                      yield apply b (Linear(false)) [ b.Dense; wd ] ]
            let bias = b.Param("bias", [ 1 ], Initializer.Zeros(), "linear")
            match terms with
            | [] -> invalidArg "features" "linear: the features are empty"
            | first :: rest ->
                let total = rest |> List.fold (fun acc t -> apply b (Add()) [ acc; t ]) first
                apply b (Add()) [ total; bias ])

    let linear = linearWith 0.0f

    let dense = Expr.make "dense" (fun b -> b.Dense)

    let biInteraction (e: Expr) =
        Expr.make "bi_interaction" (fun b -> apply b (BiInteraction()) [ b.Eval e ])

    let fm (e: Expr) =
        Expr.make "fm" (fun b -> apply b (Sum(1, keepDim = true)) [ apply b (BiInteraction()) [ b.Eval e ] ])

    let innerProduct (e: Expr) =
        Expr.make "inner_product" (fun b -> apply b (PairwiseInner()) [ b.Eval e ])

    let fefmWith (o: FefmOptions) (e: Expr) =
        Expr.make "fefm" (fun b ->
            let x = b.Eval e
            if x.Shape.Rank <> 3 then
                raise (CtrDsl.Tensors.ShapeException($"fefm: expected [batch; fields; dim], got {x.Shape}"))
            let fields, dim = x.Shape[1], x.Shape[2]
            let pairs = FieldInteraction.Pairs fields
            let u = b.Param("field_pairs", [ pairs; dim; dim ], Initializer.Normal(0.0f, o.Std), "field_embedding", l2 = o.L2)
            apply b (Fefm()) [ x; u ])

    let fefm e = fefmWith FefmOptions.defaults e

    let reduceSum (e: Expr) =
        Expr.make "reduce_sum" (fun b -> apply b (Sum(-1, keepDim = true)) [ b.Eval e ])

    let private denseNode (b: Build) (name: string) (units: int) (l2: float32) (x: Node) =
        if x.Shape.Rank <> 2 then
            let scope = match b.Graph.CurrentScope with | null -> "dense" | s -> s
            raise (CtrDsl.Tensors.ShapeException($"{scope}: expected [batch; n], got {x.Shape}"))
        let n = x.Shape[1]
        let w = b.Param(name + ".weight", [ n; units ], Initializer.TorchLinearWeight(), "dnn", l2 = l2)
        let bias = b.Param(name + ".bias", [ units ], Initializer.TorchLinearBias(n), "dnn")
        apply b (Linear()) [ x; w; bias ]

    let private activate (b: Build) (a: Activation) (name: string) (x: Node) =
        match a with
        | Relu -> apply b (CtrDsl.Ops.Relu()) [ x ]
        | Tanh -> apply b (CtrDsl.Ops.Tanh()) [ x ]
        | Sigmoid -> apply b (CtrDsl.Ops.Sigmoid()) [ x ]
        | NoActivation -> x
        | PRelu ->
            let slope = b.Param(name + ".prelu", [ x.Shape[1] ], Initializer.Constant(0.25f), "dnn")
            apply b (CtrDsl.Ops.PRelu()) [ x; slope ]

    let private hiddenLayers (b: Build) (o: MlpOptions) (input: Node) =
        o.Hidden
        |> List.indexed
        |> List.fold
            (fun x (i, units) ->
                let name = $"dense{i}"
                let mutable h = denseNode b name units o.L2 x
                if o.BatchNorm then
                    let gamma = b.Param(name + ".bn.gamma", [ units ], Initializer.Constant(1.0f), "dnn")
                    let beta = b.Param(name + ".bn.beta", [ units ], Initializer.Zeros(), "dnn")
                    let mean = b.State(name + ".bn.running_mean", [ units ], 0.0f)
                    let var = b.State(name + ".bn.running_var", [ units ], 1.0f)
                    h <- apply b (BatchNorm()) [ h; gamma; beta; mean; var ]
                h <- activate b o.Activation name h
                if o.Dropout > 0.0f then h <- apply b (Dropout(o.Dropout)) [ h ]
                h)
            input

    let layers (o: MlpOptions) (e: Expr) =
        Expr.make "mlp" (fun b -> hiddenLayers b o (b.Eval e))

    let mlpWith (o: MlpOptions) (e: Expr) =
        Expr.make "mlp" (fun b ->
            let h = hiddenLayers b o (b.Eval e)
            denseNode b "output" 1 o.L2 h)

    let mlp hidden e = mlpWith (MlpOptions.hidden hidden) e

    let denseLayer (units: int) (e: Expr) =
        Expr.make "dense_layer" (fun b -> denseNode b "dense" units 0.0f (b.Eval e))

    let sum (parts: Expr list) =
        Expr.make "sum" (fun b ->
            match parts |> List.map b.Eval with
            | [] -> invalidArg "parts" "sum: no blocks to add"
            | first :: rest -> rest |> List.fold (fun acc t -> apply b (Add()) [ acc; t ]) first)

    let private concatAlong (name: string) (axis: int) (parts: Expr list) =
        Expr.make name (fun b ->
            match parts |> List.map b.Eval with
            | [] -> invalidArg "parts" $"{name}: no blocks"
            | [ one ] -> one
            | many -> apply b (Concat(axis)) many)

    let concat parts = concatAlong "concat" -1 parts

    let concatFields parts = concatAlong "concat_fields" 1 parts

    let flatten (e: Expr) =
        Expr.make "flatten" (fun b ->
            let x = b.Eval e
            if x.Shape.Rank = 2 then x else apply b (Flatten()) [ x ])

    let dnnInput (e: Expr) =
        Expr.make "dnn_input" (fun b ->
            let x = b.Eval e
            let flat = if x.Shape.Rank = 2 then x else apply b (Flatten()) [ x ]
            if b.Features.DenseFields.IsEmpty then flat else apply b (Concat(-1)) [ flat; b.Dense ])

    /// The listed fields of x [batch; fields; k]: one slice per run of consecutive positions, then a concat.
    let private pickFields (b: Build) (indices: int list) (x: Node) =
        let fields = x.Shape[1]
        for i in indices do
            if i < 0 || i >= fields then
                raise (CtrDsl.Tensors.ShapeException($"select_fields: field {i} is outside {x.Shape}"))
        let runs =
            indices
            |> List.fold
                (fun acc i ->
                    match acc with
                    | (start, len) :: rest when start + len = i -> (start, len + 1) :: rest
                    | _ -> (i, 1) :: acc)
                []
            |> List.rev
        match runs with
        | [ (0, len) ] when len = fields -> x
        | _ ->
            match runs |> List.map (fun (start, len) -> apply b (Slice(1, start, len)) [ x ]) with
            | [ one ] -> one
            | many -> apply b (Concat(1)) many

    let selectFields (indices: int list) (e: Expr) =
        Expr.make "select_fields" (fun b -> pickFields b indices (b.Eval e))

    let excludeFields (indices: int list) (e: Expr) =
        Expr.make "exclude_fields" (fun b ->
            let x = b.Eval e
            pickFields b ([ 0 .. x.Shape[1] - 1 ] |> List.filter (fun i -> not (List.contains i indices))) x)

    let weightedSum (e: Expr) =
        Expr.make "weighted_sum" (fun b ->
            let x = b.Eval e
            if x.Shape.Rank <> 2 then
                raise (CtrDsl.Tensors.ShapeException($"weighted_sum: expected [batch; n], got {x.Shape}"))
            let r = b.Param("weight", [ x.Shape[1]; 1 ], Initializer.TorchLinearWeight(), "dnn")
            apply b (Linear(false)) [ x; r ])

    let convGenerate (o: ConvGenerateOptions) (e: Expr) =
        Expr.make "conv_generate" (fun b ->
            let n = o.Channels.Length
            if o.KernelHeights.Length <> n || o.PoolSizes.Length <> n || o.NewMaps.Length <> n then
                invalidArg "o" $"conv_generate: channels, kernel heights, pool sizes and new maps need one entry per layer ({n}, {o.KernelHeights.Length}, {o.PoolSizes.Length}, {o.NewMaps.Length})"
            let x = b.Eval e
            if x.Shape.Rank <> 3 then
                raise (CtrDsl.Tensors.ShapeException($"conv_generate: expected [batch; fields; dim], got {x.Shape}"))
            let dim = x.Shape[2]
            let mutable maps = apply b (Reshape(1, x.Shape[1], dim)) [ x ]
            let generated =
                [ for layer in 0 .. n - 1 do
                      let cin = maps.Shape[1]
                      let cout, h, p, newMaps = o.Channels[layer], o.KernelHeights[layer], o.PoolSizes[layer], o.NewMaps[layer]
                      let name = $"conv{layer}"
                      let fanIn = cin * h
                      let w = b.Param(name + ".weight", [ cout; cin; h ], Initializer.Uniform(-1.0f / sqrt (float32 fanIn), 1.0f / sqrt (float32 fanIn)), "generation")
                      let bias = b.Param(name + ".bias", [ cout ], Initializer.Uniform(-1.0f / sqrt (float32 fanIn), 1.0f / sqrt (float32 fanIn)), "generation")
                      let conv = apply b (CtrDsl.Ops.Tanh()) [ apply b (FieldConv()) [ maps; w; bias ] ]
                      maps <- apply b (FieldMaxPool(p, o.Rounding)) [ conv ]
                      let pooled = maps.Shape[2]
                      let flat = apply b (Flatten()) [ maps ]
                      let recombined = apply b (CtrDsl.Ops.Tanh()) [ denseNode b $"recombine{layer}" (newMaps * pooled * dim) 0.0f flat ]
                      yield apply b (Reshape(newMaps * pooled, dim)) [ recombined ] ]
            match generated with
            | [ one ] -> one
            | many -> apply b (Concat(1)) many)
