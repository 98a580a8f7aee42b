module CtrDsl.Dsl.Tests.SequenceTests

open System
open Expecto
open CtrDsl.Testing
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Cpu
open CtrDsl.Dsl
open CtrDsl.Graph
open CtrDsl.Models
open CtrDsl.Dsl.Tests.Support
open FsCheck.FSharp

let private users, private items = 5, 11

/// A user field and an item field, and an item history of `maxLength` that shares the items' rows.
let private sequenceFeatures maxLength =
    { IdFields = [ "user"; "item" ]
      TableRows = users + items
      DenseFields = []
      Sequences = [ { Name = "history"; MaxLength = maxLength; Pooling = Pooling.Mean; Target = Some "item" } ]
      Tasks = [] }

/// One batch: ids [batch; 2] and histories of lengths 0..maxLength, padded with −1 to `width`.
type private Rows = { Ids: int[]; Histories: int[][]; Batch: int }

let private padded width (r: Rows) = r.Histories |> Array.collect (fun h -> Array.append h (Array.create (width - h.Length) -1))

let private rows maxLength batch (rng: Random) =
    { Ids = Array.init (batch * 2) (fun i -> if i % 2 = 0 then rng.Next users else users + rng.Next items)
      Histories = Array.init batch (fun _ -> Array.init (rng.Next(maxLength + 1)) (fun _ -> users + rng.Next items))
      Batch = batch }

let private din (unit: AttentionUnitOptions) =
    DIN.din { DIN.DINParams.Defaults with Embedding.Dim = 4; Embedding.Std = 0.5f; Attention = unit; Mlp.Hidden = [ 8 ] }

/// The model's output for one batch, its histories padded to `width`.
let private predict (m: BuiltModel) (training: bool) (width: int) (r: Rows) =
    let plan = Plan.Compile(m.Graph, new CpuBackend(), r.Batch, null, m.Output)
    plan.Training <- training
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan r.Ids)
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "history"), ReadOnlySpan(padded width r))
    plan.Forward()
    let y = Array.zeroCreate<float32> r.Batch
    plan.Read(m.Output, Span y)
    y

/// The model's output and the history weights (the product of the unit's scores and the mask) for one batch.
let private run (m: BuiltModel) (training: bool) (width: int) (r: Rows) =
    let weights = m.Graph.Nodes |> Seq.find (fun n -> n.Op :? CtrDsl.Ops.Mul && n.Inputs[1].Op :? CtrDsl.Ops.SequenceMask)

    let plan = Plan.Compile(m.Graph, new CpuBackend(), r.Batch, null, m.Output, weights)
    plan.Training <- training
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan r.Ids)
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "history"), ReadOnlySpan(padded width r))
    plan.Forward()
    let y = Array.zeroCreate<float32> r.Batch
    let w = Array.zeroCreate<float32> (r.Batch * width)
    plan.Read(m.Output, Span y)
    plan.Read(weights, Span w)
    y, w

let private cases =
    gen {
        let! batch = Gen.elements [ 1; 2; 3; 7 ]
        let! maxLength = Gen.choose (1, 6)
        let! extra = Gen.choose (1, 5)
        let! seed = Gen.choose (0, 100000)
        return batch, maxLength, extra, seed
    }

let private units =
    [ "PReLU unit, training", { AttentionUnitOptions.din with Activation = PRelu }, true
      "PReLU unit with softmax, training", { AttentionUnitOptions.din with Activation = PRelu; Softmax = true }, true
      "Dice unit, scoring", AttentionUnitOptions.din, false ]

/// Dice normalises with the batch's statistics in training, padding positions included (as in DeepCTR and FuxiCTR),
/// so in training only the PReLU unit is padding-free; in scoring Dice uses its running statistics.
let private paddingChangesNothing (what: string, unit: AttentionUnitOptions, training: bool) =
    property $"appending padding changes no output: {what}" 25 cases (fun (batch, maxLength, extra, seed) ->
        let r = rows maxLength batch (Random seed)
        let short = Model.build "DIN" (sequenceFeatures maxLength) 7UL (din unit)
        let long = Model.build "DIN" (sequenceFeatures (maxLength + extra)) 7UL (din unit)
        let y, _ = run short training maxLength r
        let yLong, _ = run long training (maxLength + extra) r
        close $"{what}, batch {batch}, length {maxLength} + {extra}" 1e-6 1e-7 y yLong)

let private weightsOnPadding =
    property "raw weights are exactly 0 on padding and softmax weights sum to 1 over the valid positions" 25 cases (fun (batch, maxLength, _, seed) ->
        let r = rows maxLength batch (Random seed)
        let raw = Model.build "DIN" (sequenceFeatures maxLength) 7UL (din AttentionUnitOptions.din)
        let soft = Model.build "DIN" (sequenceFeatures maxLength) 7UL (din { AttentionUnitOptions.din with Softmax = true })
        let _, w = run raw true maxLength r
        let _, s = run soft true maxLength r

        for row in 0 .. batch - 1 do
            let valid = r.Histories[row].Length

            for t in valid .. maxLength - 1 do
                Expect.equal w[row * maxLength + t] 0.0f $"raw weight of row {row}, position {t}"
                Expect.equal s[row * maxLength + t] 0.0f $"softmax weight of row {row}, position {t}"

            let total = Array.sum s[row * maxLength .. row * maxLength + valid - 1]
            let want = if valid = 0 then 0.0f else 1.0f
            Expect.isLessThan (abs (total - want)) 1e-5f $"row {row}: softmax weights sum to {total} over {valid} positions")

let private learnsCandidateInHistory () =
    // Label 1 when the candidate item is among the user's behaviours: an interaction of the candidate with one
    // position, which DIN's unit scores directly. Histories hold 4 of 11 items, so the base rate is about 0.36.
    let maxLength, batch = 4, 256
    let rng = Random 11

    let r =
        { Ids = Array.init (batch * 2) (fun i -> if i % 2 = 0 then rng.Next users else users + rng.Next items)
          Histories = Array.init batch (fun _ -> Array.init maxLength (fun _ -> users + rng.Next items))
          Batch = batch }

    let labels = Array.init batch (fun row -> if Array.contains r.Ids[row * 2 + 1] r.Histories[row] then 1.0f else 0.0f)
    let m = Model.build "DIN" (sequenceFeatures maxLength) 3UL (din { AttentionUnitOptions.din with Activation = PRelu })
    let plan = Plan.Compile(m.Graph, new CpuBackend(), batch, m.Loss, m.Output)
    plan.Training <- true
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan r.Ids)
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "history"), ReadOnlySpan(padded maxLength r))
    plan.SetInput(m.Label, ReadOnlySpan labels)
    train plan (CtrDsl.Optim.Adam(plan.Parameters, 0.02f)) 300
    let y, _ = run m false maxLength r
    let auc = CtrDsl.Metrics.Auc.Compute(ReadOnlySpan y, ReadOnlySpan labels)
    Expect.isGreaterThan auc 0.95 $"train AUC {auc}"

let private noSharedHistory () =
    let f =
        { sequenceFeatures 3 with Sequences = [ { Name = "history"; MaxLength = 3; Pooling = Pooling.Mean; Target = None } ] }

    let ex = throws<ArgumentException> (fun () -> Model.build "DIN" f 1UL (din AttentionUnitOptions.din) |> ignore)
    Expect.stringContains ex.Message "shares its vocabulary" "the message names what is missing"

/// The candidate and user rows beside the history pooled over its valid positions, then an MLP.
let private pooled pooling =
    let table = embeddingTable { EmbedOptions.dim 4 with Std = 0.5f }

    concatFields [ lookupIds table; sequencePool pooling table ] |> dnnInput |> mlpWith (MlpOptions.hidden [ 8 ])

let private poolingIgnoresPadding pooling =
    property $"appending padding changes no output: masked {pooling} pooling" 25 cases (fun (batch, maxLength, extra, seed) ->
        let r = rows maxLength batch (Random seed)
        let short = Model.build "pooled" (sequenceFeatures maxLength) 7UL (pooled pooling)
        let long = Model.build "pooled" (sequenceFeatures (maxLength + extra)) 7UL (pooled pooling)

        close
            $"{pooling}, batch {batch}, length {maxLength} + {extra}"
            1e-6
            1e-7
            (predict short true maxLength r)
            (predict long true (maxLength + extra) r))

let private dien alpha =
    DIEN.dien
        { DIEN.DIENParams.Defaults with
            Embedding.Dim = 4
            Embedding.Std = 0.5f
            Evolution.Attention.Hidden = [ 6 ]
            Evolution.Auxiliary = [ 5 ]
            Evolution.AuxiliaryWeight = alpha
            Mlp.Hidden = [ 8 ] }

/// The training loss (the main BCE plus any auxiliary term) for one batch with labels 0/1 from the row's parity.
let private lossOf (m: BuiltModel) (width: int) (r: Rows) =
    let plan = Plan.Compile(m.Graph, new CpuBackend(), r.Batch, m.Loss, m.Loss)
    plan.Training <- true
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan r.Ids)
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "history"), ReadOnlySpan(padded width r))
    plan.SetInput(m.Label, ReadOnlySpan(Array.init r.Batch (fun i -> float32 (i % 2))))
    plan.Forward()
    let l = Array.zeroCreate<float32> 1
    plan.Read(m.Loss, Span l)
    l[0]

let private dienIgnoresPadding =
    property
        "DIEN: appending padding changes neither the output nor the loss with its auxiliary term"
        15
        cases
        (fun (batch, maxLength, extra, seed) ->
            let r = rows maxLength batch (Random seed)
            let short = Model.build "DIEN" (sequenceFeatures maxLength) 7UL (dien 1.0f)
            let long = Model.build "DIEN" (sequenceFeatures (maxLength + extra)) 7UL (dien 1.0f)
            let what = $"batch {batch}, length {maxLength} + {extra}"
            close $"output, {what}" 1e-6 1e-7 (predict short true maxLength r) (predict long true (maxLength + extra) r)
            close $"loss, {what}" 1e-6 1e-7 [| lossOf short maxLength r |] [| lossOf long (maxLength + extra) r |])

let private auxiliaryTerm () =
    // α scales the auxiliary term alone: loss(α) = main + α·aux, so loss(2) − loss(1) = loss(1) − loss(0) > 0.
    let r = rows 5 6 (Random 5)
    let at alpha = lossOf (Model.build "DIEN" (sequenceFeatures 5) 7UL (dien alpha)) 5 r
    let l0, l1, l2 = at 0.0f, at 1.0f, at 2.0f
    Expect.isGreaterThan (l1 - l0) 0.0f "the auxiliary term is a positive cross-entropy"
    Expect.floatClose Accuracy.medium (float (l2 - l1)) (float (l1 - l0)) "the term is linear in α"

    let ops alpha =
        (Model.build "DIEN" (sequenceFeatures 5) 7UL (dien alpha)).Graph.Nodes
        |> Seq.filter (fun n -> n.Op :? CtrDsl.Ops.MaskedBceWithLogits)
        |> Seq.length

    Expect.equal (ops 1.0f, ops 0.0f) (2, 0) "α = 0 builds no auxiliary loss"

let dienTests =
    testList "DIEN" [ dienIgnoresPadding; testCase "DIEN's loss is the BCE plus α times the auxiliary loss" auxiliaryTerm ]

let private bst =
    BST.bst
        { BST.BSTParams.Defaults with
            Embedding.Dim = 4
            Embedding.Std = 0.5f
            Transformer.Heads = 2
            Mlp.Hidden = [ 8 ]
            Mlp.Dropout = 0.0f }

let private bstIgnoresPadding =
    property "BST: appending padding changes no output" 15 cases (fun (batch, maxLength, extra, seed) ->
        let r = rows maxLength batch (Random seed)
        let short = Model.build "BST" (sequenceFeatures maxLength) 7UL bst
        let long = Model.build "BST" (sequenceFeatures (maxLength + extra)) 7UL bst
        close $"batch {batch}, length {maxLength} + {extra}" 1e-5 1e-6 (predict short true maxLength r) (predict long true (maxLength + extra) r))

let private bstSoftmaxOverValid =
    property "BST: each query's attention is exactly 0 on padding and sums to 1 over the valid positions" 15 cases (fun (batch, maxLength, _, seed) ->
        let r = rows maxLength batch (Random seed)
        let m = Model.build "BST" (sequenceFeatures maxLength) 7UL bst
        let softmax = m.Graph.Nodes |> Seq.find (fun n -> n.Op :? CtrDsl.Ops.Softmax)
        let plan = Plan.Compile(m.Graph, new CpuBackend(), r.Batch, null, m.Output, softmax)
        plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan r.Ids)
        plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "history"), ReadOnlySpan(padded maxLength r))
        plan.Forward()
        let l, heads = maxLength + 1, 2
        let w = Array.zeroCreate<float32> (batch * heads * l * l)
        plan.Read(softmax, Span w)

        for row in 0 .. batch - 1 do
            // Position 0 is the target; positions 1 .. valid hold the behaviours.
            let valid = 1 + r.Histories[row].Length

            for h in 0 .. heads - 1 do
                for query in 0 .. l - 1 do
                    let at key = w[((row * heads + h) * l + query) * l + key]

                    for key in valid .. l - 1 do
                        Expect.equal (at key) 0.0f $"row {row}, head {h}, query {query}: weight on padded key {key}"

                    let total = Seq.sum (seq { for key in 0 .. valid - 1 -> at key })
                    Expect.isLessThan (abs (total - 1.0f)) 1e-5f $"row {row}, head {h}, query {query}: weights sum to {total}")

let bstTests = testList "BST" [ bstIgnoresPadding; bstSoftmaxOverValid ]

let poolingTests =
    testList "masked pooling" [ yield! List.map poolingIgnoresPadding [ SequencePooling.Sum; SequencePooling.Mean; SequencePooling.Max ] ]

let tests =
    testList
        "DIN"
        [ yield! List.map paddingChangesNothing units
          weightsOnPadding
          testCase "DIN learns whether the candidate is in the history" learnsCandidateInHistory
          testCase "DIN without a history that shares the candidate's vocabulary is a clear error" noSharedHistory ]
