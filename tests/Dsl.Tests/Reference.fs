/// Naive float64 definitions of the combinators, short enough to check by eye: x is [batch; fields; dim] row-major,
/// outputs are batch first, field pairs i < j in combinations order.
module CtrDsl.Dsl.Tests.Reference

open CtrDsl.Testing

let private at (c: LayerCase) (x: float[]) b f k = x[(b * c.Fields + f) * c.Dim + k]

let pairs (c: LayerCase) =
    [ for i in 0 .. c.Fields - 1 do
          for j in i + 1 .. c.Fields - 1 -> i, j ]

/// y[b, o] = Σ_i x[b, i]·w[i, o] (+ bias[o]).
let linear (x: float[]) (w: float[]) (bias: float[] option) rows inDim outDim =
    let y = Array.zeroCreate (rows * outDim)

    for r in 0 .. rows - 1 do
        for o in 0 .. outDim - 1 do
            let mutable s = bias |> Option.map (fun b -> b[o]) |> Option.defaultValue 0.0

            for j in 0 .. inDim - 1 do
                s <- s + x[r * inDim + j] * w[j * outDim + o]

            y[r * outDim + o] <- s

    y

let sigmoid (x: float) = 1.0 / (1.0 + exp -x)

/// ⟨x_i, x_j⟩ per pair: [batch; pairs].
let innerProduct (v: Values) =
    let c = v.Case

    [| for b in 0 .. c.Batch - 1 do
           for i, j in pairs c -> Seq.sum (seq { for k in 0 .. c.Dim - 1 -> at c v.X b i k * at c v.X b j k }) |]

/// Σ_{i<j} x_i,k·x_j,k: [batch; dim].
let biInteraction (v: Values) =
    let c = v.Case

    [| for b in 0 .. c.Batch - 1 do
           for k in 0 .. c.Dim - 1 -> pairs c |> List.sumBy (fun (i, j) -> at c v.X b i k * at c v.X b j k) |]

/// Σ_{i<j} ⟨x_i, x_j⟩: [batch; 1].
let fm (v: Values) = biInteraction v |> Array.chunkBySize v.Case.Dim |> Array.map Array.sum

/// Σ_p r_p·⟨x_i, x_j⟩: [batch; 1].
let fwfm (v: Values) =
    let r = v.Param "weight"
    innerProduct v |> Array.chunkBySize (pairs v.Case).Length |> Array.map (Array.mapi (fun p s -> r[p] * s) >> Array.sum)

/// x_iᵀ (U_p + U_pᵀ) x_j: [batch; pairs].
let fefm (v: Values) =
    let c, u = v.Case, v.Param "field_pairs"
    let d = c.Dim

    [| for b in 0 .. c.Batch - 1 do
           for p, (i, j) in List.indexed (pairs c) ->
               Seq.sum (
                   seq {
                       for a in 0 .. d - 1 do
                           for e in 0 .. d - 1 -> at c v.X b i a * (u[(p * d + a) * d + e] + u[(p * d + e) * d + a]) * at c v.X b j e
                   }
               ) |]

/// Σ over every value of a row: [batch; 1].
let sumAll (v: Values) = v.X |> Array.chunkBySize (v.Case.Fields * v.Case.Dim) |> Array.map Array.sum

/// The listed fields in order: [batch; |indices|; dim].
let selectFields (indices: int list) (v: Values) =
    let c = v.Case

    [| for b in 0 .. c.Batch - 1 do
           for f in indices do
               for k in 0 .. c.Dim - 1 -> at c v.X b f k |]

/// [x, x] along the field axis: [batch; 2·fields; dim].
let concatFieldsTwice (v: Values) =
    let c = v.Case
    let row = c.Fields * c.Dim

    [| for b in 0 .. c.Batch - 1 do
           yield! v.X[b * row .. b * row + row - 1]
           yield! v.X[b * row .. b * row + row - 1] |]

/// Σ_j r_j·x_j over the flattened row: [batch; 1].
let weightedSum (v: Values) =
    let n = v.Case.Fields * v.Case.Dim
    linear v.X (v.Param "weight") None v.Case.Batch n 1

/// One dense layer of the flattened row to `units`: [batch; units].
let denseLayer (units: int) (v: Values) =
    let n = v.Case.Fields * v.Case.Dim
    linear v.X (v.Param "dense.weight") (Some(v.Param "dense.bias")) v.Case.Batch n units

/// One hidden layer with an activation (PReLU reads its slopes): [batch; units].
let hidden (units: int) (activation: CtrDsl.Dsl.Activation) (v: Values) =
    let n = v.Case.Fields * v.Case.Dim
    let h = linear v.X (v.Param "dense0.weight") (Some(v.Param "dense0.bias")) v.Case.Batch n units

    match activation with
    | CtrDsl.Dsl.Relu -> h |> Array.map (max 0.0)
    | CtrDsl.Dsl.Tanh -> h |> Array.map tanh
    | CtrDsl.Dsl.Sigmoid -> h |> Array.map sigmoid
    | CtrDsl.Dsl.PRelu ->
        let slope = v.Param "dense0.prelu"
        h |> Array.mapi (fun i z -> if z >= 0.0 then z else slope[i % units] * z)
    | CtrDsl.Dsl.Dice ->
        // Training: each unit normalised over the batch (biased variance, eps 1e-9, no scale or shift).
        let alpha = v.Param "dense0.dice.alpha"
        let b = v.Case.Batch

        let stats j =
            let col = [| for r in 0 .. b - 1 -> h[r * units + j] |]
            let mean = Array.average col
            mean, (col |> Array.averageBy (fun z -> (z - mean) * (z - mean)))

        let moments = Array.init units stats

        h
        |> Array.mapi (fun i z ->
            let j = i % units
            let mean, var = moments[j]
            let p = sigmoid ((z - mean) / sqrt (var + 1e-9))
            p * z + (1.0 - p) * alpha[j] * z)
    | CtrDsl.Dsl.NoActivation -> h

/// A ReLU hidden layer then one output unit: [batch; 1].
let mlp (units: int) (v: Values) =
    let h = hidden units CtrDsl.Dsl.Relu v
    linear h (v.Param "output.weight") (Some(v.Param "output.bias")) v.Case.Batch units 1

/// s sᵀ flattened, s = Σ_f x_f: [batch; dim·dim].
let outerProduct (v: Values) =
    let c = v.Case

    [| for b in 0 .. c.Batch - 1 do
           let s = Array.init c.Dim (fun k -> Seq.sum (seq { for f in 0 .. c.Fields - 1 -> at c v.X b f k }))

           for r in 0 .. c.Dim - 1 do
               for q in 0 .. c.Dim - 1 -> s[r] * s[q] |]

/// `layers` cross layers on the flattened row x0 [batch; d]: vector form x0·(x_lᵀw) + b + x_l, matrix form
/// x0 ⊙ (x_l W + b) + x_l.
let cross (matrix: bool) (layers: int) (v: Values) =
    let c = v.Case
    let d = c.Fields * c.Dim
    let x0 = v.X

    [ 0 .. layers - 1 ]
    |> List.fold
        (fun (xl: float[]) l ->
            let w, bias = v.Param $"layer{l}.weight", v.Param $"layer{l}.bias"

            if matrix then
                let lin = linear xl w (Some bias) c.Batch d d
                Array.init xl.Length (fun i -> x0[i] * lin[i] + xl[i])
            else
                let s = linear xl w None c.Batch d 1
                Array.init xl.Length (fun i -> x0[i] * s[i / d] + bias[i % d] + xl[i]))
        x0

/// FiBiNET's bilinear p_ij = (x_i W) ⊙ x_j, W picked per pair by `weightOf i j p`: [batch; pairs; dim].
let bilinear (weightOf: int -> int -> int -> int) (v: Values) =
    let c, w = v.Case, v.Param "weight"
    let d = c.Dim

    [| for b in 0 .. c.Batch - 1 do
           for p, (i, j) in List.indexed (pairs c) do
               let m = weightOf i j p

               for e in 0 .. d - 1 -> Seq.sum (seq { for a in 0 .. d - 1 -> at c v.X b i a * w[(m * d + a) * d + e] }) * at c v.X b j e |]

/// SENET: z_f = mean_k x_f,k, a = ReLU(ReLU(z W1) W2), y_f = a_f·x_f: [batch; fields; dim].
let senet (reduction: int) (v: Values) =
    let c = v.Case
    let reduced = max 1 (c.Fields / max 1 reduction)
    let z = v.X |> Array.chunkBySize c.Dim |> Array.map Array.average
    let a1 = linear z (v.Param "squeeze") None c.Batch c.Fields reduced |> Array.map (max 0.0)
    let a = linear a1 (v.Param "excite") None c.Batch reduced c.Fields |> Array.map (max 0.0)
    v.X |> Array.mapi (fun i x -> x * a[i / c.Dim])
