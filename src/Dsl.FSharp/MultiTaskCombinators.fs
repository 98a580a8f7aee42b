namespace CtrDsl.Dsl

open CtrDsl.Graph
open CtrDsl.Ops
open CtrDsl.Tensors
open CtrDsl.Dsl.Layers

type ExpertOptions = { Experts: int; Expert: MlpOptions }

type PleOptions = { Levels: int; SharedExperts: int; SpecificExperts: int; Expert: MlpOptions }

[<AutoOpen>]
module MultiTaskCombinators =
    /// The schema's tasks, or an error naming the block when the schema has one label.
    let private tasksOf (b: Build) (block: string) =
        if b.Tasks.IsEmpty then
            invalidArg
                "features"
                $"{block}: a multi-task block needs the schema's tasks (labels: [{{name, column, loss, weight}}, ...]); this schema has one label"

        b.Tasks

    /// An Expr over a node already built (a task's row, an expert's input), so Expr-level blocks can read it.
    let private ofNode (name: string) (n: Node) = Expr.make name (fun _ -> n)

    /// Row t of x [batch; tasks; d] as [batch; d]; x itself when it is [batch; d].
    let private taskRow (b: Build) (t: int) (x: Node) =
        if x.Shape.Rank = 2 then x else apply b (Reshape(x.Shape[2])) [ apply b (Slice(1, t, 1)) [ x ] ]

    /// [batch; n] rows stacked along a new axis 1: [batch; parts; n].
    let private stack (b: Build) (rows: Node list) =
        let n = rows.Head.Shape[1]

        match rows |> List.map (fun r -> apply b (Reshape(1, n)) [ r ]) with
        | [ one ] -> one
        | many -> apply b (Concat(1)) many

    /// Σ_e softmax(W x)_e · experts_e, with one linear gate reading `input`: [batch; d].
    let private gate (b: Build) (name: string) (input: Node) (experts: Node) =
        let count = experts.Shape[1]
        let g = apply b (Softmax()) [ dense b name count 0.0f input ]
        let mixed = apply b (BatchedMatMul()) [ apply b (Reshape(1, count)) [ g ]; experts ]
        apply b (Reshape(experts.Shape[2])) [ mixed ]

    let private expert (b: Build) (o: MlpOptions) (name: string) (input: Node) = b.Eval(Expr.named name (layers o (ofNode "input" input)))

    let towers (o: MlpOptions) (x: Expr) =
        Expr.make "towers" (fun b ->
            let tasks = tasksOf b "towers"
            let input = b.Eval x

            if input.Shape.Rank = 3 && input.Shape[1] <> tasks.Length then
                raise (ShapeException($"towers: expected one row per task [batch; {tasks.Length}; d], got {input.Shape}"))

            let logits =
                tasks
                |> List.mapi (fun t task -> b.Eval(Expr.named $"tower.{task.Name}" (mlpWith o (ofNode "input" (taskRow b t input)))))

            match logits with
            | [ one ] -> one
            | many -> apply b (Concat(1)) many)

    let experts (o: ExpertOptions) (x: Expr) =
        Expr.make "experts" (fun b ->
            let tasks = tasksOf b "experts"

            if o.Experts < 1 then
                invalidArg "experts" $"experts: expected at least one expert, got {o.Experts}"

            let input = b.Eval x
            let all = stack b [ for e in 0 .. o.Experts - 1 -> expert b o.Expert $"expert{e}" input ]
            let rows = tasks |> List.map (fun task -> gate b $"gate.{task.Name}" input all)
            stack b rows)

    let ple (o: PleOptions) (x: Expr) =
        Expr.make "ple" (fun b ->
            let tasks = tasksOf b "ple"

            if o.Levels < 1 || o.SharedExperts < 0 || o.SpecificExperts < 1 then
                invalidArg
                    "ple"
                    $"ple: expected levels >= 1, shared experts >= 0 and specific experts >= 1, got {o.Levels}, {o.SharedExperts}, {o.SpecificExperts}"

            let input = b.Eval x

            let level (taskInputs: Node list, sharedInput: Node) (l: int) =
                let specific =
                    tasks
                    |> List.mapi (fun t task ->
                        [ for e in 0 .. o.SpecificExperts - 1 -> expert b o.Expert $"level{l}.{task.Name}.expert{e}" taskInputs[t] ])

                let shared = [ for e in 0 .. o.SharedExperts - 1 -> expert b o.Expert $"level{l}.shared.expert{e}" sharedInput ]

                let outputs =
                    tasks |> List.mapi (fun t task -> gate b $"level{l}.{task.Name}.gate" taskInputs[t] (stack b (specific[t] @ shared)))

                let nextShared =
                    if l < o.Levels - 1 then
                        gate b $"level{l}.shared.gate" sharedInput (stack b (List.concat specific @ shared))
                    else
                        sharedInput

                outputs, nextShared

            let rows, _ = List.fold level (List.replicate tasks.Length input, input) [ 0 .. o.Levels - 1 ]
            stack b rows)

    let esmm (ctr: Expr) (cvr: Expr) =
        Expr.make "esmm" (fun b ->
            let tasks = tasksOf b "esmm"

            if tasks.Length <> 2 then
                invalidArg "features" $"esmm: expected two tasks, CTR then CTCVR (click AND conversion), got {tasks.Length}"

            let pctr = b.Eval ctr
            let pcvr = b.Eval cvr

            for n, what in [ pctr, "ctr"; pcvr, "cvr" ] do
                if n.Shape <> Shape.Batched(1) then
                    raise (ShapeException($"esmm: the {what} tower must end in one logit [batch; 1], got {n.Shape}"))

            apply b (Concat(1)) [ pctr; apply b (ProductLogit()) [ pctr; pcvr ] ])
