namespace CtrDsl.Dsl

open System.Collections.Generic
open CtrDsl.Graph
open CtrDsl.Ops
open CtrDsl.Tensors
open CtrDsl.Data

/// What the model's output is trained against.
type Objective =
    /// Binary labels; the output is a logit and the loss is BCE from logits.
    | BinaryClassification
    /// Real targets; the output is the prediction and the loss is MSE.
    | Regression

module Objective =
    /// The spellings of the YAML key `loss` and the CLI: bce | mse.
    let names = [ "bce", BinaryClassification; "mse", Regression ]

/// A model declaration built into a graph for one set of features: its output, loss, inputs and parameters.
/// A multi-task model (the features carry tasks) has one output column per task, [batch; tasks], and its loss is
/// the tasks' weighted sum; Objective is then unused.
type BuiltModel =
    { Name: string
      Objective: Objective
      Features: Features
      Graph: ExprGraph
      Output: Node
      Loss: Node
      Label: Node
      Inputs: Node list
      Parameters: IReadOnlyList<Parameter> }

    /// The features' tasks: empty for a model with one label.
    member m.Tasks: LabelTask list = m.Features.Tasks

    /// Whether the output is a logit that scoring turns into a probability (binary classification), read from the
    /// objective, not the loss node: a model with an auxiliary loss (DIEN's) has a sum there.
    member m.OutputIsLogit = m.Objective = BinaryClassification

    member m.TrainableParameters = m.Parameters |> Seq.filter (fun p -> p.Trainable) |> Seq.toList

    member m.ParameterCount = m.TrainableParameters |> List.sumBy (fun p -> p.Numel)

module Model =
    let private lossOf (graph: ExprGraph) (objective: Objective) (output: Node) (label: Node) =
        match objective with
        | BinaryClassification -> graph.Apply(BceWithLogits(), output, label)
        | Regression -> graph.Apply(Mse(), output, label)

    /// Σ_t w_t·loss_t(output[:, t], labels[:, t]): each task's BCE from its logit or MSE, weighted, summed.
    let private taskLoss (graph: ExprGraph) (tasks: LabelTask list) (output: Node) (labels: Node) =
        use _ = graph.ScopeAt "loss"

        tasks
        |> List.mapi (fun t task ->
            let column (n: Node) = graph.Apply(Slice(1, t, 1), n)

            let objective = if task.Loss = TaskLoss.Mse then Regression else BinaryClassification

            let l = lossOf graph objective (column output) (column labels)
            if task.Weight = 1.0f then l else graph.Apply(Scale(task.Weight), l))
        |> List.reduce (fun a b -> graph.Apply(Add(), a, b))

    /// Builds a declaration into a fresh graph. Shape errors surface here, naming the block.
    let buildFor (objective: Objective) (name: string) (features: Features) (seed: uint64) (model: Expr) : BuiltModel =
        let graph = ExprGraph()
        let b = Build(graph, features, seed, name)
        let output = b.Eval model
        let tasks = features.Tasks

        if tasks.IsEmpty && output.Shape <> Shape.Batched(1) then
            raise (ShapeException($"{name}: a model must end in one output per row [batch; 1], got {output.Shape}"))

        if not tasks.IsEmpty && output.Shape <> Shape.Batched(tasks.Length) then
            let names = tasks |> List.map (fun t -> t.Name) |> String.concat ", "

            raise (
                ShapeException(
                    $"{name}: the schema declares {tasks.Length} tasks ({names}); the model must end in one output per task [batch; {tasks.Length}], got {output.Shape}"
                )
            )

        let label = b.Label

        let main = if tasks.IsEmpty then lossOf graph objective output label else taskLoss graph tasks output label

        // Auxiliary terms the blocks asked for (DIEN's) are added to the objective's loss.
        let loss = b.Losses |> List.fold (fun l term -> graph.Apply(Add(), l, term)) main

        { Name = name
          Objective = objective
          Features = features
          Graph = graph
          Output = output
          Loss = loss
          Label = label
          Inputs = b.Inputs
          Parameters = b.Parameters }

    /// `buildFor BinaryClassification`: the CTR case.
    let build name features seed model = buildFor BinaryClassification name features seed model
