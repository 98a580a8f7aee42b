namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Ops
open CtrDsl.Tensors
open CtrDsl.Dsl.Layers

type AttentionUnitOptions = { Hidden: int list; Activation: Activation; Softmax: bool }

module AttentionUnitOptions =
    let din = { Hidden = [ 80; 40 ]; Activation = Dice; Softmax = false }

type InterestEvolutionOptions = { Attention: AttentionUnitOptions; Auxiliary: int list; AuxiliaryWeight: float32 }

module InterestEvolutionOptions =
    let dien =
        { Attention = { Hidden = [ 80; 40 ]; Activation = Activation.Sigmoid; Softmax = true }
          Auxiliary = [ 100; 50 ]
          AuxiliaryWeight = 1.0f }

type TransformerOptions = { Heads: int; FeedForwardRatio: int }

module TransformerOptions =
    let bst = { Heads = 8; FeedForwardRatio = 4 }

[<AutoOpen>]
module SequenceCombinators =
    let embeddingTable (o: EmbedOptions) = Expr.make "embed" (fun b -> table b o)

    let lookupIds (table: Expr) =
        Expr.make "lookup_ids" (fun b ->
            if b.Features.IdFields.IsEmpty then
                invalidArg "features" "lookup_ids: the features have no id fields"

            apply b (Embedding()) [ b.Ids; b.Eval table ])

    /// One [batch; 1; k] row per multi-valued field, made by `row` ([batch; k] or [batch; 1; k]) from its ids [batch; len].
    let private perSequence (b: Build) (row: SequenceInput -> Node -> Node) =
        let rows =
            [ for s in b.Features.Sequences do
                  let ids = b.Sequence s
                  let pooled = row s ids
                  yield if pooled.Shape.Rank = 2 then apply b (Reshape(1, pooled.Shape[1])) [ pooled ] else pooled ]

        match rows with
        | [] -> invalidArg "features" "the model reads multi-valued fields, but the features have none"
        | [ one ] -> one
        | many -> apply b (Concat(1)) many

    let sequencePool (pooling: SequencePooling) (table: Expr) =
        Expr.make "sequence_pool" (fun b ->
            let rows = b.Eval table
            perSequence b (fun _ ids -> apply b (MaskedPool(pooling)) [ apply b (Embedding()) [ ids; rows ]; ids ]))

    /// The weights w [batch; len; 1] of one history: the unit's scores, masked (or a softmax over the valid positions).
    let private weights (b: Build) (o: AttentionUnitOptions) (field: string) (query: Node) (keys: Node) (mask: Node) =
        let len = keys.Shape[1]
        let q = apply b (Expand(1, len)) [ query ]
        let input = apply b (Concat(-1)) [ q; keys; apply b (Sub()) [ q; keys ]; apply b (Mul()) [ q; keys ] ]

        let hidden =
            o.Hidden
            |> List.indexed
            |> List.fold
                (fun x (i, units) ->
                    let name = $"{field}.unit.dense{i}"
                    activate b o.Activation name (positionwise b name units 0.0f x))
                input

        let scores = positionwise b $"{field}.unit.score" 1 0.0f hidden

        if o.Softmax then
            // −1e9 on padding before the softmax, then the mask again: an all-padding history weighs nothing.
            let minusOne = b.State($"{field}.unit.minus_one", [ 1 ], -1.0f)
            let penalty = apply b (Scale(1e9f)) [ apply b (Add()) [ mask; minusOne ] ]
            let logits = apply b (Reshape(len)) [ apply b (Add()) [ scores; penalty ] ]
            apply b (Mul()) [ apply b (Reshape(len, 1)) [ apply b (Softmax()) [ logits ] ]; mask ]
        else
            apply b (Mul()) [ scores; mask ]

    /// Every multi-valued field as one [batch; 1; k] row: those with a target by `withTarget` (from the field, its
    /// ids, its behaviours [batch; len; k], its mask and the target's row [batch; 1; k]), the others pooled as their
    /// schema says. Raises, naming the combinator, when no field has a target.
    let private againstTarget (block: string) (table: Expr) withTarget =
        Expr.make block (fun b ->
            let f = b.Features
            let rows = b.Eval table
            let k = rows.Shape[1]

            if f.Sequences |> List.forall (fun s -> s.Target.IsNone) then
                invalidArg
                    "features"
                    $"{block}: no multi-valued field shares its vocabulary with an id field (give the history the candidate's vocabulary in the schema)"

            let targets = lazy (apply b (Embedding()) [ b.Ids; rows ])

            perSequence b (fun s ids ->
                match s.Target with
                | Some target ->
                    let i = List.findIndex ((=) target) f.IdFields
                    let query = apply b (Slice(1, i, 1)) [ targets.Force() ]
                    let keys = apply b (Embedding()) [ ids; rows ]
                    withTarget b s ids query keys (apply b (SequenceMask()) [ ids ])
                | None -> apply b (EmbeddingBag(s.Pooling)) [ ids; rows ]))

    let targetAttention (o: AttentionUnitOptions) (table: Expr) =
        againstTarget "target_attention" table (fun b s _ query keys mask ->
            let w = weights b o s.Name query keys mask
            let k = keys.Shape[2]
            apply b (Sum(1, keepDim = true)) [ apply b (Mul()) [ keys; apply b (Expand(2, k)) [ w ] ] ])

    let gru (hidden: int) (mask: Expr) (sequence: Expr) =
        Expr.make "gru" (fun b -> Recurrence.recur b "gru" hidden (b.Eval mask) None (b.Eval sequence))

    let augru (hidden: int) (mask: Expr) (attention: Expr) (sequence: Expr) =
        Expr.make "augru" (fun b -> Recurrence.recur b "augru" hidden (b.Eval mask) (Some(b.Eval attention)) (b.Eval sequence))

    /// DIEN's auxiliary loss for one field: states h [batch; len; k] after each behaviour, behaviours e, mask m.
    let private auxiliaryLoss (b: Build) (o: InterestEvolutionOptions) (field: string) (h: Node) (e: Node) (m: Node) =
        let len = h.Shape[1]
        // Position t + 1 is the behaviour before t, so the state after t (positions 1 .. len − 1) predicts t's
        // neighbour toward the present (positions 0 .. len − 2).
        let later (x: Node) = apply b (Slice(1, 1, len - 1)) [ x ]
        let next (x: Node) = apply b (Slice(1, 0, len - 1)) [ x ]
        let mul l r = apply b (Mul()) [ l; r ]
        let states = later h
        let positive = next e
        let negative = next (apply b (RollBatch()) [ e ])
        let pairs = mul (later m) (next m)
        let negatives = mul pairs (next (apply b (RollBatch()) [ m ]))
        // One net scores both: the positive and negative pairs side by side along the positions.
        let input = apply b (Concat(-1)) [ apply b (Concat(1)) [ states; states ]; apply b (Concat(1)) [ positive; negative ] ]

        let hidden =
            o.Auxiliary
            |> List.indexed
            |> List.fold
                (fun x (i, units) ->
                    activate b Activation.Sigmoid $"{field}.auxiliary.dense{i}" (positionwise b $"{field}.auxiliary.dense{i}" units 0.0f x))
                input

        let logits = positionwise b $"{field}.auxiliary.score" 1 0.0f hidden
        let half start = apply b (Slice(1, start, len - 1)) [ logits ]
        let clicked = apply b (MaskedBceWithLogits(1.0f)) [ half 0; pairs ]
        let sampled = apply b (MaskedBceWithLogits(0.0f)) [ half (len - 1); negatives ]
        apply b (Scale(o.AuxiliaryWeight)) [ apply b (Add()) [ clicked; sampled ] ]

    let interestEvolution (o: InterestEvolutionOptions) (table: Expr) =
        againstTarget "interest_evolution" table (fun b s _ query keys mask ->
            let k = keys.Shape[2]
            let states = Recurrence.recur b $"{s.Name}.extractor" k mask None keys

            if o.AuxiliaryWeight <> 0.0f && keys.Shape[1] > 1 then
                b.AddLoss(auxiliaryLoss b o s.Name states keys mask)

            let scores = weights b o.Attention s.Name query states mask
            let final = Recurrence.recur b $"{s.Name}.evolution" k mask (Some scores) states
            apply b (Slice(1, 0, 1)) [ final ])

    let behaviourTransformer (o: TransformerOptions) (table: Expr) =
        againstTarget "behaviour_transformer" table (fun b s ids query keys mask ->
            let len, k = keys.Shape[1], keys.Shape[2]
            let l = len + 1

            if o.Heads < 1 || k % o.Heads <> 0 then
                invalidArg "options" $"behaviour_transformer: {o.Heads} heads do not divide the embedding size {k}"

            let dk = k / o.Heads
            let add l r = apply b (Add()) [ l; r ]
            let name part = $"{s.Name}.transformer.{part}"
            let positions = b.Param(name "positions", [ l; k ], Initializer.Normal(0.0f, 0.01f), "embedding")
            let x = add (apply b (Concat(1)) [ query; keys ]) positions
            // The target's position is always valid: the id fields' mask (ids are never padding) at field 0.
            let valid = apply b (Concat(1)) [ apply b (Slice(1, 0, 1)) [ apply b (SequenceMask()) [ b.Ids ] ]; mask ]
            let heads (y: Node) = apply b (Transpose(1, 2)) [ apply b (Reshape(l, o.Heads, dk)) [ y ] ]
            let project part = heads (positionwise b (name part) k 0.0f x)
            let q, key, v = project "query", project "key", project "value"
            let logits = apply b (Scale(1.0f / sqrt (float32 dk))) [ apply b (BatchedMatMul(transposeB = true)) [ q; key ] ]
            // −1e9 on the padded keys: their softmax weight is exactly 0 and the valid keys' weights sum to 1.
            let minusOne = b.State(name "minus_one", [ 1 ], -1.0f)
            let penalty = apply b (Reshape(1, 1, l)) [ apply b (Scale(1e9f)) [ add valid minusOne ] ]
            let keyPenalty = apply b (Expand(2, l)) [ apply b (Expand(1, o.Heads)) [ penalty ] ]
            let weights = apply b (Softmax()) [ add logits keyPenalty ]
            let attended = apply b (BatchedMatMul()) [ weights; v ]
            let merged = apply b (Reshape(l, k)) [ apply b (Transpose(1, 2)) [ attended ] ]

            let norm part (y: Node) =
                let gamma = b.Param(name $"{part}.gamma", [ k ], Initializer.Constant(1.0f), "dnn")
                let beta = b.Param(name $"{part}.beta", [ k ], Initializer.Zeros(), "dnn")
                apply b (LayerNorm()) [ y; gamma; beta ]

            let h1 = norm "norm1" (add x (positionwise b (name "output") k 0.0f merged))
            let inner = activate b Activation.PRelu (name "ffn1") (positionwise b (name "ffn1") (o.FeedForwardRatio * k) 0.0f h1)
            let h2 = norm "norm2" (add h1 (positionwise b (name "ffn2") k 0.0f inner))
            let target = apply b (Slice(1, 0, 1)) [ h2 ]
            let behaviours = apply b (MaskedPool(SequencePooling.Mean)) [ apply b (Slice(1, 1, len)) [ h2 ]; ids ]
            apply b (Concat(1)) [ target; apply b (Reshape(1, k)) [ behaviours ] ])
