module CtrDsl.Dsl.Tests.Support

open System
open CtrDsl.Autodiff
open CtrDsl.Cpu
open CtrDsl.Dsl
open FsCheck
open FsCheck.FSharp
open CtrDsl.Testing

/// Id-only features: `fields` fields, each with `perField` rows of one global table.
let features fields perField = Features.ids [ for i in 1..fields -> $"C{i}" ] (fields * perField)

/// Random global ids for a batch: field f draws from its own block of rows.
let randomIds (rng: Random) (f: Features) batch =
    let perField = f.TableRows / f.IdFields.Length
    Array.init (batch * f.IdFields.Length) (fun i -> (i % f.IdFields.Length) * perField + rng.Next perField)

/// The model's output for one batch of ids.
let forward (m: BuiltModel) (ids: int[]) batch =
    let plan = Plan.Compile(m.Graph, new CpuBackend(), batch, null, m.Output)
    let idsNode = m.Inputs |> List.find (fun n -> n.Name = "ids")
    plan.SetInput(idsNode, ReadOnlySpan ids)
    plan.Forward()
    let y = Array.zeroCreate<float32> batch
    plan.Read(m.Output, Span y)
    y

/// A training plan on the CPU for one fixed batch of ids and labels, its inputs set.
let trainingPlan (m: BuiltModel) (ids: int[]) (labels: float32[]) batch =
    let plan = Plan.Compile(m.Graph, new CpuBackend(), batch, m.Loss, m.Output)
    plan.Training <- true
    plan.SetInput(m.Inputs |> List.find (fun n -> n.Name = "ids"), ReadOnlySpan ids)
    plan.SetInput(m.Label, ReadOnlySpan labels)
    plan

/// `steps` forward passes, backward passes and optimizer steps.
let train (plan: Plan) (optimizer: CtrDsl.Optim.Optimizer) steps =
    for _ in 1..steps do
        plan.Forward()
        plan.Backward()
        optimizer.Step()

/// |a − b| ≤ atol + rtol·|b| everywhere, or a message naming the first offender.
let close (what: string) (rtol: float) (atol: float) (want: float32[]) (got: float32[]) =
    if want.Length <> got.Length then
        failwith $"{what}: {want.Length} values expected, got {got.Length}"

    for i in 0 .. want.Length - 1 do
        let err = abs (float got[i] - float want[i])

        if not (err <= atol + rtol * abs (float want[i])) then
            failwith $"{what}: element {i}: expected {want[i]}, got {got[i]}"

/// An Expecto property over `count` generated cases with the kit's fixed replay seed; a failure shows the case.
let property (name: string) (count: int) (gen: Gen<'T>) (body: 'T -> unit) =
    Expecto.ExpectoFsCheck.testPropertyWithConfig (CtrDsl.Testing.PropertyConfig.ofTests count) name (Prop.forAll (Arb.fromGen gen) body)
