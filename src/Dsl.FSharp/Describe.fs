namespace CtrDsl.Dsl

open System
open System.Text
open CtrDsl.Graph

/// Prints a built model as a tree of its blocks (the scopes its combinators opened), with each block's output
/// shape and the trainable parameters it owns, including those of its sub-blocks.
module Describe =
    type private Block = { Name: string; mutable Shape: string; mutable Own: int64; Children: ResizeArray<Block> }

    let private newBlock name = { Name = name; Shape = ""; Own = 0L; Children = ResizeArray() }

    let rec private total (b: Block) : int64 = b.Own + (b.Children |> Seq.sumBy total)

    let private child (parent: Block) (name: string) =
        match parent.Children |> Seq.tryFind (fun c -> c.Name = name) with
        | Some c -> c
        | None ->
            let c = newBlock name
            parent.Children.Add c
            c

    /// The tree as text, e.g. "DeepFM [batch; 1] 795,807" then one indented line per block.
    let text (m: BuiltModel) : string =
        let root = newBlock "(model)"

        for n in m.Graph.Nodes do
            match n.Scope with
            | null -> ()
            | scope ->
                let block = scope.Split('/') |> Array.fold child root

                match n.Kind, n.Parameter with
                | NodeKind.Parameter, NonNull p when p.Trainable -> block.Own <- block.Own + p.Numel
                | NodeKind.Op, _ -> block.Shape <- string n.Shape
                | _ -> ()

        let sb = StringBuilder()

        let rec print (b: Block) (indent: string) (isLast: bool) (top: bool) =
            let branch =
                if top then ""
                elif isLast then "└─ "
                else "├─ "

            let label = indent + branch + b.Name
            sb.AppendLine($"{label.PadRight 44} {b.Shape.PadRight 18} {total b, 12:N0}") |> ignore
            let next = if top then "" else indent + (if isLast then "   " else "│  ")
            b.Children |> Seq.iteri (fun i c -> print c next (i = b.Children.Count - 1) false)

        sb.AppendLine($"""{"block".PadRight 44} {"output".PadRight 18} {"parameters", 12}""") |> ignore

        for c in root.Children do
            print c "" true true

        sb.AppendLine($"total trainable parameters: {m.ParameterCount:N0}") |> ignore
        sb.ToString()
