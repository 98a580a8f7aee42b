/// The training choices a run names (optimizer, monitored metric, device), each one union with one spelling table that
/// the YAML reader, the command line and the run folder all use.
namespace CtrDsl.Dsl

open System
open CtrDsl.Backends
open CtrDsl.Metrics
open CtrDsl.Tensors

/// A closed set of choices spelled one way: `names` pairs each spelling with its value.
module Choice =
    let name (names: (string * 'a) list) (v: 'a) = names |> List.find (snd >> (=) v) |> fst

    let tryParse (names: (string * 'a) list) (text: string) =
        let key = text.Trim().ToLowerInvariant()
        names |> List.tryFind (fst >> (=) key) |> Option.map snd

    /// "a | b | c", for messages.
    let expected (names: (string * 'a) list) = String.Join(" | ", List.map fst names)

/// The optimisation rule (the classes in CtrDsl.Optim implement them).
type OptimizerKind =
    | Adam
    | Adagrad
    | Sgd
    | Ftrl
    /// RAdam + Lookahead (k = 6, α = 0.5).
    | Ranger

module OptimizerKind =
    let names = [ "adam", Adam; "adagrad", Adagrad; "sgd", Sgd; "ftrl", Ftrl; "ranger", Ranger ]
    let name (k: OptimizerKind) = Choice.name names k

    /// The rule over `parameters` at learning rate (FTRL: alpha) `lr`.
    let create (k: OptimizerKind) (lr: float32) (parameters: Parameter seq) : CtrDsl.Optim.Optimizer =
        match k with
        | Adam -> CtrDsl.Optim.Adam(parameters, lr)
        | Adagrad -> CtrDsl.Optim.Adagrad(parameters, lr)
        | Sgd -> CtrDsl.Optim.Sgd(parameters, lr)
        | Ftrl -> CtrDsl.Optim.Ftrl(parameters, lr)
        | Ranger -> CtrDsl.Optim.Ranger(parameters, lr)

/// The validation metric that early stopping, reduce-on-plateau and the best checkpoint follow.
type Monitor =
    | Auc
    | LogLoss

module Monitor =
    let names = [ "auc", Auc; "logloss", LogLoss ]
    let name (m: Monitor) = Choice.name names m

    let value (m: Monitor) (r: MetricsReport) =
        match m with
        | Auc -> r.Auc
        | LogLoss -> r.LogLoss

    /// True when `v` beats `best` (NaN: nothing yet) on the metric.
    let improves (m: Monitor) (best: float) (v: float) =
        not (Double.IsNaN v)
        && (Double.IsNaN best
            || (match m with
                | Auc -> v > best
                | LogLoss -> v < best))

/// Where a model runs: `cpu`, `opencl` / `opencl:N` for the N-th OpenCL device, or `torch` (libtorch on the CPU) /
/// `torch:cuda` / `torch:cuda:N` (libtorch on a CUDA device) when ctr is built with the Torch backend (`ctr devices`
/// lists them).
type Device =
    | Cpu
    | OpenCl of index: int
    /// libtorch through the Torch backend: on the CPU (None) or on CUDA device N (Some N).
    | Torch of cuda: int option

module Device =
    let expected = "cpu, opencl, opencl:N, torch, torch:cuda or torch:cuda:N"

    let private index (text: string) =
        match Int32.TryParse text with
        | true, i when i >= 0 -> Some i
        | _ -> None

    /// The one grammar of a device name.
    let parse (text: string) : Result<Device, string> =
        let d = text.Trim().ToLowerInvariant()

        if d = "cpu" then
            Ok Cpu
        elif d = "opencl" then
            Ok(OpenCl 0)
        elif d.StartsWith "opencl:" then
            match index (d.Substring 7) with
            | Some i -> Ok(OpenCl i)
            | None -> Error expected
        elif d = "torch" then
            Ok(Torch None)
        elif d = "torch:cuda" then
            Ok(Torch(Some 0))
        elif d.StartsWith "torch:cuda:" then
            match index (d.Substring 11) with
            | Some i -> Ok(Torch(Some i))
            | None -> Error expected
        else
            Error expected

    let name (d: Device) =
        match d with
        | Cpu -> "cpu"
        | OpenCl i -> $"opencl:%d{i}"
        | Torch None -> "torch"
        | Torch(Some i) -> $"torch:cuda:%d{i}"

    /// A new backend on the device. OpenCL raises OpenClException when no runtime or device answers; Torch raises
    /// BackendUnavailableException when the Torch backend is not in this build or CUDA is absent.
    let create (d: Device) : IBackend =
        match d with
        | Cpu -> new CtrDsl.Cpu.CpuBackend()
        | OpenCl i -> CtrDsl.OpenCl.OpenClBackend.Create i
        | Torch _ -> BackendProviders.Torch.Create(name d)

/// Where the tables indexed by the global ids live on data-parallel ranks. They share one id space, and sharding
/// rewrites the batch's ids to working slots, so the choice is made for that id space as a whole (every such table
/// of the model: DeepFM's `embed/table` and `linear/weight`), not table by table.
type TablePlacement =
    /// Every rank holds the whole tables; their row-sparse gradients are all-gathered (`GradientExchange`).
    | Replicate
    /// Rank g mod n holds row g; rows and gradients travel by all-to-all (`ShardedTables`).
    | Shard

module TablePlacement =
    /// The spellings of the YAML key `tables`: auto (None: shard an id space of 1M rows or more on several ranks),
    /// replicate or shard.
    let names = [ "auto", None; "replicate", Some Replicate; "shard", Some Shard ]

/// What the dense gradients travel as between data-parallel ranks (`ExchangeOptions.Precision`).
module GradientPrecision =
    /// The spellings of the YAML key `exchange`: fp32 (the default, exact) or bf16 (half the bytes).
    let names = [ "fp32", CtrDsl.Distributed.GradientPrecision.Fp32; "bf16", CtrDsl.Distributed.GradientPrecision.Bf16 ]
