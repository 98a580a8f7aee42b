namespace CtrDsl.Dsl

open System.Collections.Generic
open CtrDsl.Graph
open CtrDsl.Init
open CtrDsl.Tensors

/// <summary>
/// A model block: a recipe that adds its nodes to the core expression graph when a model is built. The graph is
/// the only IR; an Expr is how F# describes what to put in it. Each Expr is evaluated once per build, so using the
/// same value twice shares its nodes and parameters (one embedding table for FM and the MLP).
/// </summary>
[<Sealed>]
type Expr internal (name: string, build: Build -> Node) =
    member _.Name = name
    member internal _.Run(b: Build) = build b
    override _.ToString() = name

/// <summary>
/// One build of a model: the graph being filled, the features it reads, the seed that fixes every initial value
/// (each parameter draws from its own stream keyed by its name, so creation order does not matter).
/// Every block is named model/block (a repeated block name gets #2, #3 …), whoever uses it first, so a shared
/// block has one stable name.
/// </summary>
and [<Sealed>] Build(graph: ExprGraph, features: Features, seed: uint64, model: string) =
    let memo = Dictionary<Expr, Node>(HashIdentity.Reference)
    let blocks = HashSet<string>()
    let parameters = List<Parameter>()
    let names = HashSet<string>()
    let mutable ids: Node option = None
    let mutable dense: Node option = None
    let sequences = Dictionary<string, Node>()
    let mutable label: Node option = None
    let losses = List<Node>()

    let scoped (name: string) =
        match graph.CurrentScope with
        | null -> name
        | scope -> scope + "/" + name

    member _.Graph = graph
    member _.Features = features
    member _.Seed = seed
    member _.Parameters = parameters :> IReadOnlyList<Parameter>

    /// Evaluates an Expr once; later uses get the same node.
    member this.Eval(e: Expr) : Node =
        match memo.TryGetValue e with
        | true, n -> n
        | _ ->
            let mutable block = e.Name
            let mutable k = 2

            while not (blocks.Add block) do
                block <- $"{e.Name}#{k}"
                k <- k + 1

            let n =
                use _ = graph.ScopeAt(model + "/" + block)
                e.Run this

            memo[e] <- n
            n

    /// A new parameter named after the current scope, initialised from the build's seed.
    member _.Param(name: string, shape: int list, init: Initializer, ?group: string, ?sparse: bool, ?l2: float32) : Node =
        let baseName = scoped name
        let mutable full = baseName
        let mutable k = 2

        while not (names.Add full) do
            full <- $"{baseName}#{k}"
            k <- k + 1

        let p = Parameter(full, List.toArray shape, defaultArg sparse false)
        p.Group <- defaultArg group "default"
        p.L2 <- defaultArg l2 0.0f
        init.Fill(p, seed)
        parameters.Add p
        graph.Parameter p

    /// A non-trainable state tensor (batch-norm running statistics).
    member _.State(name: string, shape: int list, value: float32) : Node =
        let p = Parameter(scoped name, List.toArray shape, Trainable = false)
        System.Array.Fill(p.Value, value)
        parameters.Add p
        graph.Parameter p

    /// The id fields as one input [batch; fields] (global ids).
    member _.Ids =
        match ids with
        | Some n -> n
        | None ->
            let n = graph.CategoricalInput("ids", features.IdFields.Length)
            ids <- Some n
            n

    /// The numeric fields as one input [batch; n].
    member _.Dense =
        if features.DenseFields.IsEmpty then
            invalidArg "features" "the model reads numeric fields, but the features have none"

        match dense with
        | Some n -> n
        | None ->
            let n = graph.NumericInput("dense", features.DenseFields.Length)
            dense <- Some n
            n

    /// A multi-valued field's padded ids [batch; maxLength].
    member _.Sequence(s: SequenceInput) =
        match sequences.TryGetValue s.Name with
        | true, n -> n
        | _ ->
            let n = graph.MultiValuedInput(s.Name, s.MaxLength)
            sequences[s.Name] <- n
            n

    /// Adds a scalar term to the training loss (an auxiliary loss such as DIEN's); the model's loss is the sum.
    member _.AddLoss(term: Node) = losses.Add term

    /// The terms added by `AddLoss`, in order.
    member _.Losses = List.ofSeq losses

    /// The tasks of a multi-task schema (empty for one label).
    member _.Tasks = features.Tasks

    /// The label input: [batch], or [batch; tasks] with one column per task of a multi-task schema.
    member _.Label =
        match label with
        | Some n -> n
        | None ->
            let n = if features.Tasks.IsEmpty then graph.LabelInput() else graph.LabelsInput(features.Tasks.Length)
            label <- Some n
            n

    /// The input nodes made so far, in a fixed order: ids, dense, sequences (schema order), label.
    member _.Inputs =
        [ yield! Option.toList ids
          yield! Option.toList dense
          for s in features.Sequences do
              match sequences.TryGetValue s.Name with
              | true, n -> yield n
              | _ -> ()
          yield! Option.toList label ]

module Expr =
    /// An Expr from a build function; the name scopes its nodes and parameters.
    let make (name: string) (build: Build -> Node) = Expr(name, build)

    /// A block with the same definition under another name. It is a new block: use the named value wherever
    /// the block should be shared.
    let named (name: string) (e: Expr) = Expr(name, e.Run)
