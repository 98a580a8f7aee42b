namespace CtrDsl.Testing

open System

/// How close two numbers must be: |got − want| ≤ Atol + Rtol·|want|.
type Tolerance = { Rtol: float; Atol: float }

module Tolerance =
    /// float32 kernels against the float64 reference: a few ulps of the largest partial sum at test sizes.
    let forward = { Rtol = 1e-4; Atol = 1e-5 }

    /// Analytic gradients against central differences of the reference (h = 1e-5·max(1, |x|), in float64): the
    /// float32 backward's rounding dominates, as in the core's op tests.
    let gradient = { Rtol = 2e-3; Atol = 2e-4 }

    /// Two backends that sum in different orders (per work-item loops, CLBlast's tiling).
    let backends = { Rtol = 1e-4; Atol = 1e-5 }

    /// Bit for bit.
    let exact = { Rtol = 0.0; Atol = 0.0 }

    let within (t: Tolerance) (want: float) (got: float) = abs (got - want) <= t.Atol + t.Rtol * abs want || (Double.IsNaN want && Double.IsNaN got)

/// Shapes and values written for a person: `[3; 2; 5]` and nested brackets, cut short past a limit.
module Show =
    let shape (dims: int list) = "[" + String.Join("; ", dims) + "]"

    /// The row-major index i of a tensor of the given dims, as `[b; f; k]`.
    let index (dims: int list) (i: int) =
        let rec go (rest: int list) (i: int) =
            match rest with
            | [] -> []
            | _ :: tail ->
                let inner = List.fold (*) 1 tail
                (i / inner) :: go tail (i % inner)

        shape (go dims i)

    let number (v: float) = v.ToString("G6", Globalization.CultureInfo.InvariantCulture)

    /// Values as nested lists by dims, at most `limit` numbers (then "…").
    let values (limit: int) (dims: int list) (v: float[]) =
        let sb = Text.StringBuilder()
        let mutable shown = 0

        let rec go (rest: int list) (offset: int) =
            match rest with
            | [] ->
                if shown < limit then sb.Append(number v[offset]) |> ignore else sb.Append "…" |> ignore
                shown <- shown + 1
            | n :: tail ->
                let inner = List.fold (*) 1 tail
                sb.Append "[" |> ignore

                for j in 0 .. n - 1 do
                    if shown <= limit then
                        if j > 0 then
                            sb.Append ", " |> ignore

                        go tail (offset + j * inner)

                sb.Append "]" |> ignore

        if v.Length = List.fold (*) 1 dims then go dims 0 else sb.Append($"{v.Length} values") |> ignore
        sb.ToString()

    /// `name [dims] = values`, the form a failure report lists its inputs in.
    let tensor (name: string) (dims: int list) (v: float[]) = $"{name} {shape dims} = {values 48 dims v}"

module Compare =
    /// None when every element is within the tolerance, or a message naming the first offender by its index in
    /// `dims`, with both values, the error and the bound.
    let first (what: string) (t: Tolerance) (dims: int list) (want: float[]) (got: float[]) =
        if want.Length <> got.Length then
            Some $"{what}: expected {want.Length} values {Show.shape dims}, got {got.Length}"
        else
            Seq.init want.Length id
            |> Seq.tryFind (fun i -> not (Tolerance.within t want[i] got[i]))
            |> Option.map (fun i ->
                let err = abs (got[i] - want[i])

                $"{what} {Show.shape dims} at {Show.index dims i}: expected {Show.number want[i]}, got {Show.number got[i]} "
                + $"(|err| {Show.number err} > {t.Atol} + {t.Rtol}·|expected|)")
