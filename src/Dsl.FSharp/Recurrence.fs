/// The recurrence behind `gru` and `augru` (SequenceCombinators.fsi says what it computes), on nodes.
module internal CtrDsl.Dsl.Recurrence

open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Ops
open CtrDsl.Dsl.Layers

/// Position t of x [batch; len; c] as [batch; c].
let private at (b: Build) (t: int) (x: Node) = apply b (Reshape(x.Shape[2])) [ apply b (Slice(1, t, 1)) [ x ] ]

/// The recurrence of `gru` and `augru` on nodes: x [batch; len; d], mask and attention [batch; len; 1].
let recur (b: Build) (name: string) (hidden: int) (mask: Node) (attention: Node option) (x: Node) =
    let len = x.Shape[1]
    let h3 = 3 * hidden
    // The input's share of the three gates for every position at once: [batch; len; 3·hidden] = [u; r; h̃].
    let inputs = positionwise b $"{name}.input" h3 0.0f x
    let w = b.Param($"{name}.state.weight", [ hidden; h3 ], Initializer.TorchLinearWeight(), "dnn")
    let bias = b.Param($"{name}.state.bias", [ h3 ], Initializer.TorchLinearBias(hidden), "dnn")
    let part i (n: Node) = apply b (Slice(-1, i * hidden, hidden)) [ n ]
    let add l r = apply b (Add()) [ l; r ]
    let mul l r = apply b (Mul()) [ l; r ]
    let spread t (n: Node) = apply b (Expand(1, hidden)) [ at b t n ]

    let step (h: Node option) t =
        let xt = at b t inputs
        // The state's share; before any state it is the bias alone, [3·hidden], broadcast over the batch.
        let ht =
            match h with
            | Some h -> apply b (Linear()) [ h; w; bias ]
            | None -> bias

        let u = apply b (Sigmoid()) [ add (part 0 xt) (part 0 ht) ]
        let r = apply b (Sigmoid()) [ add (part 1 xt) (part 1 ht) ]
        let candidate = apply b (Tanh()) [ add (part 2 xt) (mul r (part 2 ht)) ]
        // The gate that moves the state: u_t on a valid position (× a_t for AUGRU), 0 on padding.
        let g = Option.fold (fun g a -> mul g (spread t a)) (mul u (spread t mask)) attention

        match h with
        | Some h -> add h (mul g (apply b (Sub()) [ candidate; h ]))
        | None -> mul g candidate

    let states =
        [ len - 1 .. -1 .. 0 ] |> List.scan (fun (h: Node option) t -> Some(step h t)) None |> List.choose id |> List.rev

    match states with
    | [ one ] -> apply b (Reshape(1, hidden)) [ one ]
    | many -> apply b (Concat(1)) (many |> List.map (fun h -> apply b (Reshape(1, hidden)) [ h ]))
