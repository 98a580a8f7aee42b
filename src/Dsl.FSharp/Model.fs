namespace CtrDsl.Dsl

open System.Collections.Generic
open CtrDsl.Graph
open CtrDsl.Ops
open CtrDsl.Tensors

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

    member m.TrainableParameters = m.Parameters |> Seq.filter (fun p -> p.Trainable) |> Seq.toList

    member m.ParameterCount = m.TrainableParameters |> List.sumBy (fun p -> p.Numel)

module Model =
    /// Builds a declaration into a fresh graph. Shape errors surface here, naming the block.
    let buildFor (objective: Objective) (name: string) (features: Features) (seed: uint64) (model: Expr) : BuiltModel =
        let graph = ExprGraph()
        let b = Build(graph, features, seed, name)
        let output = b.Eval model

        if output.Shape <> Shape.Batched(1) then
            raise (ShapeException($"{name}: a model must end in one output per row [batch; 1], got {output.Shape}"))

        let label = b.Label

        let main =
            match objective with
            | BinaryClassification -> graph.Apply(BceWithLogits(), output, label)
            | Regression -> graph.Apply(Mse(), output, label)

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
