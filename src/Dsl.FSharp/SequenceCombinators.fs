namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Graph
open CtrDsl.Ops
open CtrDsl.Tensors
open CtrDsl.Dsl.Layers

type AttentionUnitOptions = { Hidden: int list; Activation: Activation; Softmax: bool }

module AttentionUnitOptions =
    let din = { Hidden = [ 80; 40 ]; Activation = Dice; Softmax = false }

[<AutoOpen>]
module SequenceCombinators =
    let embeddingTable (o: EmbedOptions) = Expr.make "embed" (fun b -> table b o)

    let lookupIds (table: Expr) =
        Expr.make "lookup_ids" (fun b ->
            if b.Features.IdFields.IsEmpty then
                invalidArg "features" "lookup_ids: the features have no id fields"

            apply b (Embedding()) [ b.Ids; b.Eval table ])

    /// One [batch; 1; k] row per multi-valued field, from its ids [batch; len] and its rows [batch; len; k].
    let private perSequence (b: Build) (row: SequenceInput -> Node -> Node) =
        let rows =
            [ for s in b.Features.Sequences do
                  let ids = b.Sequence s
                  let pooled = row s ids
                  yield apply b (Reshape(1, pooled.Shape[1])) [ pooled ] ]

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

    let targetAttention (o: AttentionUnitOptions) (table: Expr) =
        Expr.make "target_attention" (fun b ->
            let f = b.Features
            let rows = b.Eval table
            let k = rows.Shape[1]

            if f.Sequences |> List.forall (fun s -> s.Target.IsNone) then
                invalidArg
                    "features"
                    "target_attention: no multi-valued field shares its vocabulary with an id field (give the history the candidate's vocabulary in the schema)"

            let targets = lazy (apply b (Embedding()) [ b.Ids; rows ])

            let pooled =
                [ for s in f.Sequences do
                      let ids = b.Sequence s

                      match s.Target with
                      | Some target ->
                          let i = List.findIndex ((=) target) f.IdFields
                          let query = apply b (Slice(1, i, 1)) [ targets.Force() ]
                          let keys = apply b (Embedding()) [ ids; rows ]
                          let w = weights b o s.Name query keys (apply b (SequenceMask()) [ ids ])
                          yield apply b (Sum(1, keepDim = true)) [ apply b (Mul()) [ keys; apply b (Expand(2, k)) [ w ] ] ]
                      | None -> yield apply b (Reshape(1, k)) [ apply b (EmbeddingBag(s.Pooling)) [ ids; rows ] ] ]

            match pooled with
            | [ one ] -> one
            | many -> apply b (Concat(1)) many)
