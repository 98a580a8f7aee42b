namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Ops
open CtrDsl.Dsl.Layers

[<AutoOpen>]
module Combinators =
    let named name e = Expr.named name e

    let embedWith (o: EmbedOptions) =
        Expr.make "embed" (fun b ->
            let f = b.Features
            let table = Layers.table b o

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
                else
                    None

            let terms =
                [ match weights with
                  | Some w when not f.IdFields.IsEmpty -> yield apply b (Sum(1)) [ apply b (Embedding()) [ b.Ids; w ] ]
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

    let biInteraction (e: Expr) = Expr.make "bi_interaction" (fun b -> apply b (BiInteraction()) [ b.Eval e ])

    let fm (e: Expr) = Expr.make "fm" (fun b -> apply b (Sum(1, keepDim = true)) [ apply b (BiInteraction()) [ b.Eval e ] ])

    let innerProduct (e: Expr) = Expr.make "inner_product" (fun b -> apply b (PairwiseInner()) [ b.Eval e ])

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

    let reduceSum (e: Expr) = Expr.make "reduce_sum" (fun b -> apply b (Sum(-1, keepDim = true)) [ b.Eval e ])

    let private hiddenLayers (b: Build) (o: MlpOptions) (input: Node) =
        o.Hidden
        |> List.indexed
        |> List.fold
            (fun x (i, units) ->
                let name = $"dense{i}"
                let mutable h = Layers.dense b name units o.L2 x

                if o.BatchNorm then
                    let gamma = b.Param(name + ".bn.gamma", [ units ], Initializer.Constant(1.0f), "dnn")
                    let beta = b.Param(name + ".bn.beta", [ units ], Initializer.Zeros(), "dnn")
                    let mean = b.State(name + ".bn.running_mean", [ units ], 0.0f)
                    let var = b.State(name + ".bn.running_var", [ units ], 1.0f)
                    h <- apply b (BatchNorm()) [ h; gamma; beta; mean; var ]

                h <- Layers.activate b o.Activation name h

                if o.Dropout > 0.0f then
                    h <- apply b (Dropout(o.Dropout)) [ h ]

                h)
            input

    let layers (o: MlpOptions) (e: Expr) = Expr.make "mlp" (fun b -> hiddenLayers b o (b.Eval e))

    let mlpWith (o: MlpOptions) (e: Expr) =
        Expr.make "mlp" (fun b ->
            let h = hiddenLayers b o (b.Eval e)
            Layers.dense b "output" 1 o.L2 h)

    let mlp hidden e = mlpWith (MlpOptions.hidden hidden) e

    let denseLayer (units: int) (e: Expr) = Expr.make "dense_layer" (fun b -> Layers.dense b "dense" units 0.0f (b.Eval e))

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

    let selectFields (indices: int list) (e: Expr) = Expr.make "select_fields" (fun b -> pickFields b indices (b.Eval e))

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

    let fwfm (e: Expr) = named "fwfm" (weightedSum (innerProduct e))

    let convGenerate (o: ConvGenerateOptions) (e: Expr) =
        Expr.make "conv_generate" (fun b ->
            let n = o.Channels.Length

            if o.KernelHeights.Length <> n || o.PoolSizes.Length <> n || o.NewMaps.Length <> n then
                invalidArg
                    "o"
                    $"conv_generate: channels, kernel heights, pool sizes and new maps need one entry per layer ({n}, {o.KernelHeights.Length}, {o.PoolSizes.Length}, {o.NewMaps.Length})"

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

                      let w =
                          b.Param(
                              name + ".weight",
                              [ cout; cin; h ],
                              Initializer.Uniform(-1.0f / sqrt (float32 fanIn), 1.0f / sqrt (float32 fanIn)),
                              "generation"
                          )

                      let bias =
                          b.Param(
                              name + ".bias",
                              [ cout ],
                              Initializer.Uniform(-1.0f / sqrt (float32 fanIn), 1.0f / sqrt (float32 fanIn)),
                              "generation"
                          )

                      let conv = apply b (CtrDsl.Ops.Tanh()) [ apply b (FieldConv()) [ maps; w; bias ] ]
                      maps <- apply b (FieldMaxPool(p, o.Rounding)) [ conv ]
                      let pooled = maps.Shape[2]
                      let flat = apply b (Flatten()) [ maps ]
                      let recombined = apply b (CtrDsl.Ops.Tanh()) [ Layers.dense b $"recombine{layer}" (newMaps * pooled * dim) 0.0f flat ]
                      yield apply b (Reshape(newMaps * pooled, dim)) [ recombined ] ]

            match generated with
            | [ one ] -> one
            | many -> apply b (Concat(1)) many)

    let private expectRank (name: string) (rank: int) (expected: string) (x: Node) =
        if x.Shape.Rank <> rank then
            raise (CtrDsl.Tensors.ShapeException($"{name}: expected {expected}, got {x.Shape}"))

    let ffm (dim: int) =
        Expr.make "ffm" (fun b ->
            let f = b.Features
            let fields = f.IdFields.Length
            let table = b.Param("table", [ f.TableRows; fields * dim ], Initializer.Normal(0.0f, 0.01f), "embedding", sparse = true)
            apply b (FieldAwareInner()) [ apply b (Embedding()) [ b.Ids; table ] ])

    let outerProduct (e: Expr) =
        Expr.make "outer_product" (fun b ->
            let x = b.Eval e
            expectRank "outer_product" 3 "[batch; fields; dim]" x
            let s = apply b (Sum(1, keepDim = true)) [ x ]
            apply b (Flatten()) [ apply b (BatchedMatMul(transposeA = true)) [ s; s ] ])

    let cross (form: CrossForm) (layers: int) (e: Expr) =
        Expr.make "cross" (fun b ->
            let x0 = b.Eval e
            expectRank "cross" 2 "[batch; d]" x0
            let d = x0.Shape[1]
            let init = Initializer.XavierNormal()

            [ 0 .. layers - 1 ]
            |> List.fold
                (fun xl l ->
                    let bias = b.Param($"layer{l}.bias", [ d ], Initializer.Zeros(), "dnn")

                    let mixed =
                        match form with
                        | VectorCross ->
                            // x0·(x_lᵀw) + b: a scalar per row, broadcast over d.
                            let w = b.Param($"layer{l}.weight", [ d; 1 ], init, "dnn")
                            let s = apply b (Expand(1, d)) [ apply b (Linear(false)) [ xl; w ] ]
                            apply b (Add()) [ apply b (Mul()) [ x0; s ]; bias ]
                        | MatrixCross ->
                            let w = b.Param($"layer{l}.weight", [ d; d ], init, "dnn")
                            apply b (Mul()) [ x0; apply b (Linear()) [ xl; w; bias ] ]

                    apply b (Add()) [ mixed; xl ])
                x0)

    let cin (sizes: int list) (e: Expr) =
        Expr.make "cin" (fun b ->
            let x0 = b.Eval e
            expectRank "cin" 3 "[batch; fields; dim]" x0
            let m = x0.Shape[1]

            let pools, _ =
                sizes
                |> List.indexed
                |> List.mapFold
                    (fun (xk: Node) (l, size) ->
                        let h = xk.Shape[1]
                        // z [batch; h·m; D] → [batch; D; h·m] → dense over h·m per d → [batch; D; size] → [batch; size; D]
                        let z = apply b (Transpose(1, 2)) [ apply b (FieldOuter()) [ xk; x0 ] ]
                        let w = b.Param($"layer{l}.weight", [ h * m; size ], Initializer.TorchLinearWeight(), "dnn")
                        let bias = b.Param($"layer{l}.bias", [ size ], Initializer.Zeros(), "dnn")
                        let next = apply b (Transpose(1, 2)) [ apply b (Linear()) [ z; w; bias ] ]
                        apply b (Sum(2)) [ next ], next)
                    x0

            match pools with
            | [] -> invalidArg "sizes" "cin: at least one layer"
            | [ one ] -> one
            | many -> apply b (Concat(-1)) many)

    let selfAttention (o: AttentionOptions) (e: Expr) =
        Expr.make "self_attention" (fun b ->
            let x = b.Eval e
            expectRank "self_attention" 3 "[batch; fields; dim]" x
            let fields, d, width = x.Shape[1], x.Shape[2], o.Heads * o.HeadDim

            let project name =
                let w = b.Param(name, [ d; width ], Initializer.XavierUniform(), "dnn")
                apply b (Linear(false)) [ x; w ]
            // [batch; fields; heads·dk] → [batch; heads; fields; dk]
            let heads (y: Node) = apply b (Transpose(1, 2)) [ apply b (Reshape(fields, o.Heads, o.HeadDim)) [ y ] ]
            let q, k, v = heads (project "query"), heads (project "key"), heads (project "value")
            let scores = apply b (Softmax()) [ apply b (BatchedMatMul(transposeB = true)) [ q; k ] ]
            let attended = apply b (BatchedMatMul()) [ scores; v ]
            let merged = apply b (Reshape(fields, width)) [ apply b (Transpose(1, 2)) [ attended ] ]
            let out = if o.Residual then apply b (Add()) [ merged; project "residual" ] else merged
            apply b (CtrDsl.Ops.Relu()) [ out ])

    let attentionPooling (attentionDim: int) (e: Expr) =
        Expr.make "attention_pooling" (fun b ->
            let x = b.Eval e
            expectRank "attention_pooling" 3 "[batch; fields; dim]" x
            let k = x.Shape[2]
            let pairs = apply b (PairwiseProduct()) [ x; x ]
            let p = pairs.Shape[1]
            let w = b.Param("attention.weight", [ k; attentionDim ], Initializer.XavierNormal(), "dnn")
            let bias = b.Param("attention.bias", [ attentionDim ], Initializer.Zeros(), "dnn")
            let h = b.Param("projection", [ attentionDim; 1 ], Initializer.XavierNormal(), "dnn")
            let hidden = apply b (CtrDsl.Ops.Relu()) [ apply b (Linear()) [ pairs; w; bias ] ]
            let scores = apply b (Softmax()) [ apply b (Reshape(p)) [ apply b (Linear(false)) [ hidden; h ] ] ]
            let weights = apply b (Expand(2, k)) [ apply b (Reshape(p, 1)) [ scores ] ]
            apply b (Sum(1)) [ apply b (Mul()) [ pairs; weights ] ])

    let senet (reduction: int) (e: Expr) =
        Expr.make "senet" (fun b ->
            let x = b.Eval e
            expectRank "senet" 3 "[batch; fields; dim]" x
            let fields, k = x.Shape[1], x.Shape[2]
            let reduced = max 1 (fields / max 1 reduction)
            let w1 = b.Param("squeeze", [ fields; reduced ], Initializer.XavierNormal(), "dnn")
            let w2 = b.Param("excite", [ reduced; fields ], Initializer.XavierNormal(), "dnn")
            let z = apply b (Mean(2)) [ x ]

            let a =
                apply b (CtrDsl.Ops.Relu()) [ apply b (Linear(false)) [ apply b (CtrDsl.Ops.Relu()) [ apply b (Linear(false)) [ z; w1 ] ]; w2 ] ]

            let weights = apply b (Expand(2, k)) [ apply b (Reshape(fields, 1)) [ a ] ]
            apply b (Mul()) [ x; weights ])

    let bilinear (kind: BilinearKind) (e: Expr) =
        Expr.make "bilinear" (fun b ->
            let x = b.Eval e
            expectRank "bilinear" 3 "[batch; fields; dim]" x
            let fields, k = x.Shape[1], x.Shape[2]
            let init = Initializer.XavierNormal()

            match kind with
            | FieldAll ->
                let w = b.Param("weight", [ k; k ], init, "dnn")
                apply b (PairwiseProduct()) [ apply b (Linear(false)) [ x; w ]; x ]
            | FieldEach ->
                let w = b.Param("weight", [ fields; k; k ], init, "dnn")
                apply b (PairwiseProduct()) [ apply b (FieldLinear()) [ x; w ]; x ]
            | FieldInteraction ->
                let pairs = FieldInteraction.Pairs fields
                let w = b.Param("weight", [ pairs; k; k ], init, "dnn")
                let left = apply b (FieldLinear()) [ apply b (PairRows(PairSide.Left)) [ x ]; w ]
                apply b (Mul()) [ left; apply b (PairRows(PairSide.Right)) [ x ] ])

    let crossProduct (crosses: string list list) (buckets: int) =
        Expr.make "cross_product" (fun b ->
            let idFields = b.Features.IdFields

            let position name =
                match List.tryFindIndex ((=) name) idFields with
                | Some i -> i
                | None -> invalidArg "crosses" $"""cross_product: no id field named {name}; the id fields are {String.concat ", " idFields}"""

            let groups = crosses |> List.map (fun g -> g |> List.map position |> List.toArray) |> List.toArray
            let crossed = apply b (HashCross(groups, buckets)) [ b.Ids ]
            let w = b.Param("weight", [ buckets; 1 ], Initializer.Zeros(), "linear", sparse = true)
            apply b (Sum(1)) [ apply b (Embedding()) [ crossed; w ] ])
