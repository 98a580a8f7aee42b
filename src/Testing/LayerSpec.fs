namespace CtrDsl.Testing

open FsCheck
open FsCheck.FSharp
open CtrDsl.Dsl

/// <summary>
/// What a float64 reference of a layer reads: the case, the input x [batch; fields; dim] and the layer's parameters,
/// all as float64 copies of the float32 values the plan ran on.
/// </summary>
type Values =
    {
        Case: LayerCase
        X: float[]
        /// The layer's parameters by name under the layer (`fwfm/weight`, `dense_layer/dense.bias`), in creation order.
        Parameters: (string * float[]) list
    }

    /// The parameter whose name ends with `suffix`; an error lists the names when none or several match.
    member v.Param(suffix: string) =
        match v.Parameters |> List.filter (fun (n, _) -> n = suffix || n.EndsWith("/" + suffix) || n.EndsWith("." + suffix)) with
        | [ _, values ] -> values
        | found ->
            let names = v.Parameters |> List.map fst |> String.concat ", "
            failwith $"Values.Param \"{suffix}\": {found.Length} parameters match, the layer has: {names}"

/// <summary>
/// A layer under test: a combinator applied to x [batch; fields; dim], and what the properties need to know of it.
/// Build one with <c>Layer.spec</c> and the <c>Layer</c> functions; <c>Layer.tests</c> turns it into Expecto tests.
/// </summary>
type LayerSpec =
    {
        Name: string
        /// The combinator under test, applied to the input x [batch; fields; dim].
        Layer: Expr -> Expr
        /// Its float64 definition: the output, row-major, batch first.
        Reference: (Values -> float[]) option
        /// The declared shape law: the output's dims after the batch, from the case.
        Shape: (LayerCase -> int list) option
        /// The output does not change when the fields of x are permuted (fm, sums over fields).
        SetLike: bool
        /// The cases the properties run on, and how a failing one shrinks.
        Cases: Arbitrary<LayerCase>
        /// Cases per property.
        Tests: int
        Forward: Tolerance
        Gradient: Tolerance
        /// Backends the layer must agree with the CPU on, each within its tolerance.
        Against: (Backend * Tolerance) list
        /// Cases per backend property: each new shape can cost a kernel build on a device (PoCL compiles per shape).
        BackendTests: int
        /// The tasks the layer is built with (multi-task blocks read them); empty for one label.
        Tasks: CtrDsl.Data.LabelTask list
    }
