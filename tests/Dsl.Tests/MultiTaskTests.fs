/// Multi-task models: the schema's tasks (YAML, errors, the labels stored in the cache), the weighted loss, and the
/// multi-task blocks against their float64 references and central differences through the kit; MMoE with one expert
/// is Shared-Bottom, and ESMM's pCTCVR is the product of its towers.
module CtrDsl.Dsl.Tests.MultiTaskTests

open System
open System.IO
open Expecto
open CtrDsl.Autodiff
open CtrDsl.Cpu
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Dsl.Schema
open CtrDsl.Models
open CtrDsl.Testing

module R = CtrDsl.Dsl.Tests.Reference

let private taskSchema =
    """format: csv
labels:
  - {name: click, column: clicked, loss: bce, weight: 1.0}
  - {name: ctcvr, columns: [clicked, bought]}
  - {name: watch, column: seconds, loss: mse, weight: 0.5}
fields:
  - {name: C1, kind: categorical}
"""

/// The message of the ConfigException `text` raises as a schema.
let private schemaError (text: string) =
    try
        SchemaYaml.parse "s.yaml" text |> ignore
        failwith "expected a schema error"
    with :? ConfigException as e ->
        e.Message

let private withLabels (labels: string) = $"format: csv\nlabels:\n{labels}\nfields:\n  - {{name: C1, kind: categorical}}\n"

let private yamlTests =
    testList
        "schema tasks"
        [ testCase "labels as tasks give names, columns, losses and weights; the plain forms are unchanged"
          <| fun () ->
              let s = SchemaYaml.parse "s.yaml" taskSchema
              Expect.sequenceEqual s.Labels [ "clicked"; "bought"; "seconds" ] "label columns, in order of first use"
              Expect.sequenceEqual [ for t in s.Tasks -> t.Name ] [ "click"; "ctcvr"; "watch" ] "task names"
              Expect.sequenceEqual [ for t in s.Tasks -> List.ofSeq t.Columns ] [ [ 0 ]; [ 0; 1 ]; [ 2 ] ] "task columns"
              Expect.sequenceEqual [ for t in s.Tasks -> t.Loss ] [ TaskLoss.Bce; TaskLoss.Bce; TaskLoss.Mse ] "losses"
              Expect.sequenceEqual [ for t in s.Tasks -> t.Weight ] [ 1.0f; 1.0f; 0.5f ] "weights"
              Expect.equal s.LabelCount 3 "one stored label per task"
              let plain = SchemaYaml.parse "s.yaml" "format: csv\nlabel: y\nfields:\n  - {name: C1, kind: categorical}\n"
              Expect.isEmpty plain.Tasks "label: y has no tasks"
              Expect.equal plain.LabelCount 1 "one label"

          testCase "bad task config is one line naming the file, line, column and key"
          <| fun () ->
              let cases =
                  [ withLabels "  - {name: a, column: x}\n  - {name: a, column: y}", "s.yaml:4:5 name: task a is declared twice"
                    withLabels "  - {name: a, columns: [x, y], loss: mse}", "columns: an mse task reads exactly one column, got 2"
                    withLabels "  - {name: a, column: x, weight: 0}", "weight: expected a number > 0, got \"0\""
                    withLabels "  - {name: a, column: x, loss: hinge}", "loss: expected one of bce | mse, got \"hinge\""
                    withLabels "  - {name: a, column: x, los: bce}", "los: unknown key in a label"
                    withLabels "  - {name: a, columns: []}", "columns: expected one or more label columns"
                    withLabels "  - {name: a, column: x}\n  - y", "labels: expected every label to be a {name, column, loss, weight} mapping"
                    withLabels "  - {column: x}", "name: missing; a label task needs a name" ]

              for text, want in cases do
                  let got = schemaError text
                  Expect.stringContains got want "the error names what was expected"
                  Expect.isFalse (got.Contains '\n') $"one line: {got}"
                  Expect.isTrue (got.StartsWith "s.yaml:") $"names the file and position: {got}" ]

let private tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "ctrdsl-mt-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

let private prepare (rows: string list) =
    let dir = tempDir ()
    let file = Path.Combine(dir, "train.csv")
    File.WriteAllLines(file, "clicked,bought,seconds,C1" :: rows)
    let schema = SchemaYaml.parse "s.yaml" taskSchema
    schema, Dataset.Prepare(schema, DataSources.Files file, PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1))

let private dataTests =
    testList
        "stored labels"
        [ testCase "each task's label is stored: one column, the product over the entire space, a real mse target"
          <| fun () ->
              let schema, data = prepare [ "1,1,3.5,a"; "1,0,0,b"; "0,1,12.25,a"; "0,0,-2,c" ]
              use _ = data
              Expect.equal data.Train.LabelCount 3 "three stored labels"
              let batch = Batch.Plan(schema, 8)
              let reader = BatchReader(data.Train)
              reader.StartEpoch 0L
              Expect.isTrue (reader.Next batch) "a batch"

              // conversion without a click (row 3) is not a CTCVR positive: click AND conversion.
              Expect.sequenceEqual (batch.LabelRows.ToArray()) [| 1f; 1f; 3.5f; 1f; 0f; 0f; 0f; 0f; 12.25f; 0f; 0f; -2f |] "[rows; tasks]"

          testCase "a label that is not 0/1 for a bce task, or not a number for an mse task, names file, line and column"
          <| fun () ->
              let message rows =
                  try
                      (prepare rows |> snd).Dispose()
                      ""
                  with :? DataFormatException as e ->
                      e.Message

              let m = message [ "1,0,3,a"; "0,0,long,b" ]
              Expect.stringContains m "train.csv:3:" "file and line"
              Expect.stringContains m "label column seconds: expected a number, got \"long\"" "what was expected"
              Expect.stringContains (message [ "1,0,3,a"; "2,0,1,b" ]) "label column clicked: expected 0 or 1, got \"2\"" "bce label" ]

/// Features over one id field with these tasks (BCE unless named in `mse`).
let private features (tasks: (string * TaskLoss * float32) list) =
    Features.ids [ "C1"; "C2" ] 20
    |> Features.withTasks [ for i, (n, loss, w) in List.indexed tasks -> LabelTask(n, [| i |], loss, w) ]

/// The message of the exception `f` raises.
let private failure (f: unit -> unit) =
    try
        f ()
        failwith "expected an error"
    with e ->
        e.Message

let private lossTests =
    testList
        "loss"
        [ testCase "the training loss is Σ w_t·loss_t: BCE from each BCE task's logit, MSE on each MSE task's output"
          <| fun () ->
              let f = features [ "click", TaskLoss.Bce, 1.0f; "watch", TaskLoss.Mse, 0.5f ]
              let model = embed 4 |> dnnInput |> layers (MlpOptions.hidden [ 5 ]) |> towers (MlpOptions.hidden [ 3 ])
              let m = Model.build "mt" f 7UL model
              let rows = 6
              use backend = new CpuBackend()
              let plan = Plan.Compile(m.Graph, backend, rows, m.Loss, m.Output)
              plan.Batch <- rows
              let ids = Array.init (rows * 2) (fun i -> (i * 7) % 20)
              let labels = Array.init (rows * 2) (fun i -> if i % 2 = 0 then float32 (i / 2 % 2) else float32 i * 0.3f)
              let idsNode = m.Inputs |> List.find (fun n -> n.Name = "ids")
              plan.SetInput(idsNode, ReadOnlySpan ids)
              plan.SetInput(m.Label, ReadOnlySpan labels)
              plan.Forward()
              let y = Array.zeroCreate<float32> (rows * 2)
              plan.Read(m.Output, Span y)
              let loss = plan.ReadScalar m.Loss

              let bce =
                  [ for r in 0 .. rows - 1 -> let z, t = float y[2 * r], float labels[2 * r] in max z 0.0 - t * z + log (1.0 + exp (-(abs z))) ]
                  |> List.average

              let mse = [ for r in 0 .. rows - 1 -> (float y[2 * r + 1] - float labels[2 * r + 1]) ** 2.0 ] |> List.average
              let want = bce + 0.5 * mse
              Expect.floatClose Accuracy.medium (float loss) want "Σ w_t·loss_t"

          testCase "ESMM's training loss (CTR and CTCVR BCE through product_logit) has the gradient of its central differences"
          <| fun () ->
              let f = features [ "ctr", TaskLoss.Bce, 1.0f; "ctcvr", TaskLoss.Bce, 1.0f ]
              let m = Model.build "esmm" f 5UL (ESMM.esmmModel { ESMM.ESMMParams.Defaults with Tower = MlpOptions.hidden [ 8; 4 ] })
              let rows = 16
              use backend = new CpuBackend()
              let plan = Plan.Compile(m.Graph, backend, rows, m.Loss, m.Output)
              plan.Batch <- rows
              let ids = Array.init (rows * 2) (fun i -> (i * 7 + 3) % 20)
              // Clicks on every other row, a conversion on every fourth (a click too): the entire-space CTCVR label.
              let labels =
                  Array.init (rows * 2) (fun i -> if i % 2 = 0 then float32 (i / 2 % 2) else float32 (if i / 2 % 4 = 1 then 1 else 0))

              let idsNode = m.Inputs |> List.find (fun n -> n.Name = "ids")

              let loss () =
                  plan.SetInput(idsNode, ReadOnlySpan ids)
                  plan.SetInput(m.Label, ReadOnlySpan labels)
                  plan.Forward()
                  float (plan.ReadScalar m.Loss)

              loss () |> ignore
              plan.Backward()
              let towers = plan.Parameters |> Seq.filter (fun p -> not p.IsSparse) |> Seq.toList
              Expect.equal towers.Length 12 "both towers' weights and biases"

              for p in towers do
                  let analytic = Array.copy p.Grad
                  Expect.isGreaterThan (analytic |> Array.sumBy abs) 0.0f $"{p.Name} gets a gradient"

                  for j in 0 .. p.Value.Length - 1 do
                      let v = p.Value[j]
                      let above, below = v + 1e-2f, v - 1e-2f
                      p.Value[j] <- above
                      let up = loss ()
                      p.Value[j] <- below
                      let down = loss ()
                      p.Value[j] <- v
                      let central = (up - down) / float (above - below)
                      let err = abs (central - float analytic[j])

                      if err > 1e-3 + 0.02 * abs central then
                          failtest $"{p.Name}[{j}]: central difference {central:g6}, backward {analytic[j]:g6}"

          testCase "a single-task model on a multi-task schema is one line naming the tasks"
          <| fun () ->
              let f = features [ "click", TaskLoss.Bce, 1.0f; "buy", TaskLoss.Bce, 1.0f ]
              let m = failure (fun () -> Model.build "deepfm" f 1UL (DeepFM.deepFM DeepFM.DeepFMParams.Defaults) |> ignore)
              Expect.stringContains m "deepfm: the schema declares 2 tasks (click, buy); the model must end in one output per task [batch; 2]" m

          testCase "a multi-task block on a one-label schema says so"
          <| fun () ->
              let m = failure (fun () -> Model.build "mmoe" (Features.ids [ "C1" ] 10) 1UL (MMoE.mmoe MMoE.MMoEParams.Defaults) |> ignore)

              Expect.stringContains
                  m
                  "a multi-task block needs the schema's tasks (labels: [{name, column, loss, weight}, ...]); this schema has one label"
                  m ]

/// x [batch; fields; dim] flattened: one row per case row.
let private rowsOf (v: Values) = v.Case.Batch, v.Case.Fields * v.Case.Dim

let private softmax (z: float[]) =
    let m = Array.max z
    let e = z |> Array.map (fun a -> exp (a - m))
    let s = Array.sum e
    e |> Array.map (fun a -> a / s)

/// MMoE's experts (one ReLU layer of `units` each) and a linear softmax gate per task: [batch; tasks; units].
let private expertsReference (tasks: string list) (experts: int) (units: int) (v: Values) =
    let batch, n = rowsOf v

    let expertOut =
        [| for e in 0 .. experts - 1 ->
               R.linear v.X (v.Param $"expert{e}/dense0.weight") (Some(v.Param $"expert{e}/dense0.bias")) batch n units
               |> Array.map (max 0.0) |]

    [| for r in 0 .. batch - 1 do
           for t in tasks do
               let g =
                   R.linear v.X[r * n .. r * n + n - 1] (v.Param $"gate.{t}.weight") (Some(v.Param $"gate.{t}.bias")) 1 n experts
                   |> softmax

               for k in 0 .. units - 1 -> Seq.sum (seq { for e in 0 .. experts - 1 -> g[e] * expertOut[e][r * units + k] }) |]

/// One tower per task, a ReLU layer of `units` then one unit, all reading x: [batch; tasks].
let private towersReference (tasks: string list) (units: int) (v: Values) =
    let batch, n = rowsOf v

    let tower t =
        let h =
            R.linear v.X (v.Param $"tower.{t}/dense0.weight") (Some(v.Param $"tower.{t}/dense0.bias")) batch n units
            |> Array.map (max 0.0)

        R.linear h (v.Param $"tower.{t}/output.weight") (Some(v.Param $"tower.{t}/output.bias")) batch units 1

    let outs = tasks |> List.map tower

    [| for r in 0 .. batch - 1 do
           for o in outs -> o[r] |]

/// ESMM over two linear towers: [CTR logit; logit(σ(ctr)·σ(cvr))] per row.
let private esmmReference (v: Values) =
    let batch, n = rowsOf v
    let a = R.linear v.X (v.Param "ctr/output.weight") (Some(v.Param "ctr/output.bias")) batch n 1
    let b = R.linear v.X (v.Param "cvr/output.weight") (Some(v.Param "cvr/output.bias")) batch n 1

    [| for r in 0 .. batch - 1 do
           let p = R.sigmoid a[r] * R.sigmoid b[r]
           yield a[r]
           yield log (p / (1.0 - p)) |]

/// PLE's extraction layers over experts of one ReLU layer of `units`, written out level by level: task t's gate
/// (reading task t's input) mixes task t's experts, then the shared ones; below the last level the shared gate (reading
/// the shared input) mixes every task's experts, in task order, then the shared ones into the next shared input. Every
/// input starts as x. [batch; tasks; units]
let private pleReference (tasks: string list) (levels: int) (sharedExperts: int) (specificExperts: int) (units: int) (v: Values) =
    let batch, n = rowsOf v

    let expert (name: string) (input: float[]) (width: int) =
        R.linear input (v.Param $"{name}/dense0.weight") (Some(v.Param $"{name}/dense0.bias")) batch width units
        |> Array.map (max 0.0)

    let gate (name: string) (input: float[]) (width: int) (experts: float[] list) =
        [| for r in 0 .. batch - 1 do
               let g =
                   R.linear input[r * width .. r * width + width - 1] (v.Param $"{name}.weight") (Some(v.Param $"{name}.bias")) 1 width experts.Length
                   |> softmax

               for k in 0 .. units - 1 -> List.sum [ for e, out in List.indexed experts -> g[e] * out[r * units + k] ] |]

    let level (inputs: float[] list, shared: float[], width: int) (l: int) =
        let specific =
            tasks
            |> List.mapi (fun t task -> [ for e in 0 .. specificExperts - 1 -> expert $"level{l}.{task}.expert{e}" inputs[t] width ])

        let common = [ for e in 0 .. sharedExperts - 1 -> expert $"level{l}.shared.expert{e}" shared width ]
        let outputs = tasks |> List.mapi (fun t task -> gate $"level{l}.{task}.gate" inputs[t] width (specific[t] @ common))

        let nextShared =
            if l < levels - 1 then
                gate $"level{l}.shared.gate" shared width (List.concat specific @ common)
            else
                shared

        outputs, nextShared, units

    let rows, _, _ = List.fold level (List.replicate tasks.Length v.X, v.X, n) [ 0 .. levels - 1 ]

    [| for r in 0 .. batch - 1 do
           for row in rows do
               yield! row[r * units .. r * units + units - 1] |]

let private linearTower (name: string) (x: Expr) = named name (mlpWith (MlpOptions.hidden []) x)

/// The multi-task blocks through the kit.
let specs =
    [ Layer.spec "experts (2 experts, a softmax gate per task)" (flatten >> experts { Experts = 2; Expert = MlpOptions.hidden [ 3 ] })
      |> Layer.tasks [ "a"; "b" ]
      |> Layer.reference (expertsReference [ "a"; "b" ] 2 3)
      |> Layer.shape (fun _ -> [ 2; 3 ])
      Layer.spec "towers over a shared input" (flatten >> towers (MlpOptions.hidden [ 2 ]))
      |> Layer.tasks [ "a"; "b"; "c" ]
      |> Layer.reference (towersReference [ "a"; "b"; "c" ] 2)
      |> Layer.shape (fun _ -> [ 3 ])
      Layer.spec "esmm: pCTCVR = pCTR × pCVR of its towers" (fun x -> esmm (linearTower "ctr" (flatten x)) (linearTower "cvr" (flatten x)))
      |> Layer.tasks [ "ctr"; "ctcvr" ]
      |> Layer.reference esmmReference
      |> Layer.shape (fun _ -> [ 2 ])
      Layer.spec
          "ple (2 levels, 1 shared and 2 specific experts)"
          (flatten >> ple { Levels = 2; SharedExperts = 1; SpecificExperts = 2; Expert = MlpOptions.hidden [ 3 ] })
      |> Layer.tasks [ "a"; "b" ]
      |> Layer.reference (pleReference [ "a"; "b" ] 2 1 2 3)
      |> Layer.shape (fun _ -> [ 2; 3 ])
      Layer.spec
          "ple (3 levels, 2 shared and 1 specific expert, 3 tasks)"
          (flatten >> ple { Levels = 3; SharedExperts = 2; SpecificExperts = 1; Expert = MlpOptions.hidden [ 2 ] })
      |> Layer.tasks [ "a"; "b"; "c" ]
      |> Layer.reference (pleReference [ "a"; "b"; "c" ] 3 2 1 2)
      |> Layer.shape (fun _ -> [ 3; 2 ]) ]

/// Copies every parameter of `from` into the parameter of `into` with the name `rename` gives it.
let private copyParameters (from: BuiltModel) (into: BuiltModel) (rename: string -> string) =
    for p in from.Parameters do
        let target = into.Parameters |> Seq.find (fun q -> q.Name = rename p.Name)
        Expect.sequenceEqual target.Shape p.Shape $"{p.Name} and {target.Name} have one shape"
        Array.blit p.Value 0 target.Value 0 p.Value.Length

let private propertyTests =
    testList
        "properties"
        [ testCase "MMoE with one expert equals Shared-Bottom (same parameters, bit for bit)"
          <| fun () ->
              let f = features [ "click", TaskLoss.Bce, 1.0f; "buy", TaskLoss.Bce, 1.0f ]
              let bottom = MlpOptions.hidden [ 6; 4 ]
              let tower = MlpOptions.hidden [ 3 ]

              let sb =
                  Model.build "m" f 11UL (SharedBottom.sharedBottom { Embedding = EmbedOptions.dim 4; Bottom = bottom; Tower = tower })

              let mmoe =
                  Model.build "m" f 12UL (MMoE.mmoe { Embedding = EmbedOptions.dim 4; Experts = { Experts = 1; Expert = bottom }; Tower = tower })

              copyParameters sb mmoe (fun n -> n.Replace("m/mlp/", "m/expert0/"))
              let batch = { Batch = 9; Ids = Array.init 18 (fun i -> (i * 5 + 3) % 20); Dense = [||]; Sequences = [] }
              use backend = new CpuBackend()
              let all = Array.init batch.Batch id
              let y1, _ = ModelRun.run backend false sb batch all 1
              let y2, _ = ModelRun.run backend false mmoe batch all 1
              Expect.sequenceEqual y2 y1 "MMoE(1 expert) = Shared-Bottom"
              Expect.isGreaterThan (Array.distinct y1).Length 1 "the scores vary"

          testCase "every multi-task model builds with one output per task and learns both tasks' planted signal"
          <| fun () ->
              let f = features [ "click", TaskLoss.Bce, 1.0f; "buy", TaskLoss.Bce, 1.0f ]

              for name, model in
                  [ "sharedbottom", SharedBottom.sharedBottom SharedBottom.SharedBottomParams.Defaults
                    "mmoe", MMoE.mmoe MMoE.MMoEParams.Defaults
                    "ple", PLE.pleModel PLE.PLEParams.Defaults
                    "esmm", ESMM.esmmModel ESMM.ESMMParams.Defaults ] do
                  let m = Model.build name f 3UL model
                  Expect.equal m.Output.Shape (CtrDsl.Tensors.Shape.Batched 2) $"{name}: [batch; 2]"
                  Expect.isGreaterThan m.ParameterCount 0 $"{name} has parameters" ]

let tests =
    testList "MultiTaskTests" [ yamlTests; dataTests; lossTests; propertyTests; testList "blocks" [ for s in specs -> Layer.tests s ] ]
