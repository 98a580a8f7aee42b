/// The command line: one Argu union per command; subcommands carry their own unions.
module CtrDsl.Cli.Args

open Argu
open CtrDsl.Dsl

type TrainArgs =
    | [<AltCommandLine("-c")>] Config of file: string
    | Model of name: string
    | Train of path: string
    | Valid of path: string
    | Test of path: string
    | Format of format: string
    | Schema of file: string
    | Epochs of n: int
    | Batch_Size of n: int
    | Lr of rate: float
    | Embedding_Dim of k: int
    | Set of key: string * value: string
    | Seed of seed: int
    | Out of dir: string
    | Optimizer of name: OptimizerKind
    | Valid_Ratio of ratio: float
    | Patience of n: int
    | Monitor of metric: Monitor
    | Clip_Norm of norm: float
    | Eval_Every of steps: int
    | Device of device: string
    | Threads of n: int
    | Resume of run: string
    | Max_Steps of n: int
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Max_Steps _ -> "stop after N optimizer steps in all, checkpointed so that --resume continues."
            | Config _ -> "experiment YAML (sections dataset, model, training); flags override it."
            | Model _ -> "model name from `ctr models` (default deepfm)."
            | Train _ -> "training file; without it the bundled Adult data is used."
            | Valid _ -> "validation file."
            | Test _ -> "test file."
            | Format _ -> "criteo | csv | tsv | libfm | libsvm | avazu (criteo and avazu bring a bundled schema)."
            | Schema _ -> "dataset schema YAML (see examples/schemas)."
            | Epochs _ -> "epochs (default 2)."
            | Batch_Size _ -> "training batch size (default 1024)."
            | Lr _ -> "learning rate (default 0.001)."
            | Embedding_Dim _ -> "embedding size k (the model's embedding_dim setting)."
            | Set _ -> "any model setting, e.g. --set dnn_hidden_units 256,128."
            | Seed _ -> "seed of the initial values, shuffling and the valid split (default 2024)."
            | Out _ -> "run folder (default runs/<model>-<timestamp>)."
            | Optimizer _ -> $"%s{Choice.expected OptimizerKind.names} (default adam)."
            | Valid_Ratio _ -> "hold out this fraction of the train file for validation."
            | Patience _ -> "stop after N evaluations without improvement (0: never; default 2)."
            | Monitor _ -> $"%s{Choice.expected Monitor.names}: the metric early stopping and the best checkpoint follow (default auc)."
            | Clip_Norm _ -> "clip the global gradient norm to this value (0: off)."
            | Eval_Every _ -> "also evaluate and checkpoint every N steps."
            | Device _ -> "where the model runs: cpu (default), opencl, opencl:N, torch, torch:cuda or torch:cuda:N (see `ctr devices`)."
            | Threads _ -> "compute and parsing threads (default: all cores)."
            | Resume _ -> "continue the interrupted run in this folder (from its last.ckpt)."
            | Json -> "print one JSON object instead of human output."
            | Verbose -> "print stack traces and the data-cache log."

type EvalArgs =
    | [<MainCommand; ExactlyOnce; First>] Run of run: string
    | [<Mandatory>] Data of path: string
    | Threads of n: int
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run _ -> "run folder (its checkpoint.ckpt) or a .ckpt file."
            | Data _ -> "labelled file in the run's format."
            | Threads _ -> "compute and parsing threads."
            | Json -> "print one JSON object."
            | Verbose -> "print stack traces."

type PredictArgs =
    | [<MainCommand; ExactlyOnce; First>] Run of run: string
    | [<Mandatory>] Data of path: string
    | [<Mandatory>] Out of file: string
    | Threads of n: int
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run _ -> "run folder or .ckpt file."
            | Data _ -> "file to score, in the run's format (its label column may hold anything numeric)."
            | Out _ -> "output file: one click probability per input row, in order."
            | Threads _ -> "compute and parsing threads."
            | Json -> "print one JSON object."
            | Verbose -> "print stack traces."

type ServeArgs =
    | [<MainCommand; ExactlyOnce; First>] Run of run: string
    | Port of port: int
    | Host of address: string
    | Max_Batch of rows: int
    | Max_Wait_Us of us: int
    | Max_Body_Bytes of bytes: int64
    | Timeout_Ms of ms: int
    | Workers of n: int
    | Threads of n: int
    | No_Watch
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run _ -> "run folder (its checkpoint.ckpt, watched for a reload) or a .ckpt file."
            | Port _ -> "TCP port (default 8080; 0 takes a free one)."
            | Host _ -> "address to bind (default 127.0.0.1, loopback only)."
            | Max_Batch _ -> "most rows scored in one forward pass, gathered from concurrent requests (default 64)."
            | Max_Wait_Us _ -> "µs a worker holding rows waits for more before scoring (default 0: score what is queued)."
            | Max_Body_Bytes _ -> "largest request body, else 413 (default 1048576)."
            | Timeout_Ms _ -> "a request not scored within this many ms gets 503 (default 5000)."
            | Workers _ ->
                "most forward passes at once, one predictor each (default: the processor count): one while fewer than --max-batch rows are queued, so they share it; this many while more are."
            | Threads _ -> "compute threads of each forward pass (default 1: concurrent requests and the workers use the cores; 0 = all)."
            | No_Watch -> "do not reload when the checkpoint file is replaced (POST /reload still does)."
            | Verbose -> "print stack traces."

type ExportArgs =
    | [<MainCommand; ExactlyOnce; First>] Run of run: string
    | [<Mandatory>] Onnx of file: string
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Run _ -> "run folder or .ckpt file."
            | Onnx _ -> "ONNX file to write (IR 8, opset 17); the input encoding goes beside it, extension .encoding.json."
            | Json -> "print one JSON object."
            | Verbose -> "print stack traces."

type DescribeArgs =
    | [<MainCommand; ExactlyOnce; First>] Model of name: string
    | Fields of n: int
    | Schema of file: string
    | Set of key: string * value: string
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model name from `ctr models`, or a run folder."
            | Fields _ -> "id fields of the generated Criteo-shaped input (default 39)."
            | Schema _ -> "describe over this schema's fields instead."
            | Set _ -> "a model setting, e.g. --set embedding_dim 16."
            | Json -> "print one JSON object."
            | Verbose -> "print stack traces."

type ModelsArgs =
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Json -> "print one JSON object."

type DevicesArgs =
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Json -> "print one JSON object."

type InspectArgs =
    | [<MainCommand; ExactlyOnce; First>] File of path: string
    | Format of format: string
    | Rows of n: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "CSV/TSV/Criteo/libFM file (gzip is read transparently)."
            | Format _ -> "criteo | avazu | csv | tsv | libfm (default: guessed)."
            | Rows _ -> "rows to read (default 100000)."
            | Json -> "print one JSON object."

type PrepareArgs =
    | [<Mandatory; AltCommandLine("-c")>] Config of file: string
    | Cache_Dir of dir: string
    | Threads of n: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Config _ -> "experiment YAML whose dataset section names the files and schema."
            | Cache_Dir _ -> "cache folder (default: the config's dataset.cache_dir)."
            | Threads _ -> "parser threads (default: the config's, else all cores)."
            | Json -> "print one JSON object."

type DataArgs =
    | [<CliPrefix(CliPrefix.None)>] Inspect of ParseResults<InspectArgs>
    | [<CliPrefix(CliPrefix.None)>] Prepare of ParseResults<PrepareArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Inspect _ -> "guess a schema: column kinds, cardinalities, missing rates."
            | Prepare _ -> "parse an experiment's data once into the columnar cache."

type SweepArgs =
    | [<Mandatory; AltCommandLine("-c")>] Config of file: string
    | Out of dir: string
    | Json
    | Verbose

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Config _ -> "experiment YAML with a `sweep:` section mapping section.key to a list of values."
            | Out _ -> "sweep folder (default runs/sweep-<timestamp>)."
            | Json -> "print one JSON object."
            | Verbose -> "print stack traces."

type CompareArgs =
    | [<MainCommand; ExactlyOnce>] Runs of runs: string list
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Runs _ -> "run folders."
            | Json -> "print one JSON object."

type GemmArgs =
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Json -> "print one JSON object."

type GemmBenchArgs =
    | Seconds of s: float
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seconds _ -> "timed seconds per shape and side (default 1; bench/compare.sh's ceiling readings use less)."
            | Json -> "print one JSON object per shape."

type ScoreBenchArgs =
    | Model of name: string
    | Rows of n: int
    | Calls of n: int
    | Threads of n: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "zoo model to score (default deepfm)."
            | Rows _ -> "rows scored per batch-size pass (default 262144)."
            | Calls _ -> "timed single-row calls per path, after warm-up (default 20000)."
            | Threads _ -> "compute threads."
            | Json -> "print one JSON object."

type BenchArgs =
    | [<CliPrefix(CliPrefix.None)>] Gemm of ParseResults<GemmBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Collectives of ParseResults<GemmArgs>
    | [<CliPrefix(CliPrefix.None)>] Score of ParseResults<ScoreBenchArgs>
    | Model of name: string
    | Batch_Size of n: int
    | Steps of n: int
    | Fields of n: int
    | Vocabulary of n: int
    | History of length: int
    | Threads of n: int
    | Profile
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Gemm _ -> "GEMM kernel throughput."
            | Collectives _ -> "all-reduce, all-gather and all-to-all latency and bandwidth between ranks (under mpiexec -n N)."
            | Score _ -> "scoring: batch rows/s and single-row latency through the in-process Predictor."
            | Model _ -> "zoo model to time alone (default: the MLP bench, then deepfm)."
            | Batch_Size _ -> "batch size (default 4096)."
            | Steps _ -> "timed steps (default 20)."
            | Fields _ -> "id fields of the synthetic data (default 39)."
            | Vocabulary _ -> "ids per table of the synthetic data (default 100000)."
            | History _ -> "add a behaviour history of this many positions sharing the last id field's vocabulary (DIN, DIEN, BST need one)."
            | Threads _ -> "compute threads."
            | Profile -> "also time the model's training step op by op (forward, backward, the Adam update apart)."
            | Json -> "print one JSON object."

type CtrArgs =
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Eval of ParseResults<EvalArgs>
    | [<CliPrefix(CliPrefix.None)>] Predict of ParseResults<PredictArgs>
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<ExportArgs>
    | [<CliPrefix(CliPrefix.None)>] Serve of ParseResults<ServeArgs>
    | [<CliPrefix(CliPrefix.None)>] Describe of ParseResults<DescribeArgs>
    | [<CliPrefix(CliPrefix.None)>] Models of ParseResults<ModelsArgs>
    | [<CliPrefix(CliPrefix.None)>] Devices of ParseResults<DevicesArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<SweepArgs>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<CompareArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | Version

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Train _ -> "train a model (YAML experiment and/or flags) into a run folder."
            | Eval _ -> "evaluate a run's best checkpoint on a labelled file."
            | Predict _ -> "write click probabilities for a file."
            | Export _ -> "export a run's model as ONNX, with the encoding of its inputs as JSON."
            | Serve _ -> "serve a run's model over HTTP: POST /predict, GET /health, /metadata, /metrics (docs/serving.md)."
            | Describe _ -> "print a model's block tree with shapes and parameter counts."
            | Models _ -> "list the model zoo."
            | Devices _ -> "list the devices a model can run on (cpu, what OpenCL reports and the Torch backend's devices)."
            | Data _ -> "data tools (inspect)."
            | Sweep _ -> "train a grid of experiments and compare them."
            | Compare _ -> "compare finished runs in one table."
            | Bench _ -> "training and scoring throughput on synthetic data."
            | Version -> "print the version."

/// Examples printed under each command's --help.
let examples =
    Map
        [ "train",
          """examples:
  ctr train --model deepfm                                  # bundled Adult data, prints test AUC
  ctr train --config examples/experiments/deepfm_adult.yaml --epochs 1
  ctr train --model fgcnn --train day0.tsv --format criteo --valid-ratio 0.1 --out runs/fgcnn
  ctr train --resume runs/fgcnn --epochs 3                  # continue an interrupted run"""
          "eval", "examples:\n  ctr eval runs/deepfm-20260101-120000 --data test.csv.gz"
          "predict", "examples:\n  ctr predict runs/deepfm-20260101-120000 --data new.csv --out scores.txt"
          "export", "examples:\n  ctr export runs/deepfm-20260101-120000 --onnx deepfm.onnx   # also writes deepfm.encoding.json"
          "serve",
          "examples:\n  ctr serve runs/deepfm-20260101-120000 --port 8080\n  curl -s localhost:8080/predict -d '{\"age\": 39, \"workclass\": \"Private\"}'"
          "describe", "examples:\n  ctr describe deepfm\n  ctr describe fgcnn --fields 26 --set embedding_dim 40"
          "models", "examples:\n  ctr models\n  ctr models --json"
          "devices", "examples:\n  ctr devices\n  ctr train --model deepfm --device opencl:0"
          "data", "examples:\n  ctr data inspect train.csv.gz\n  ctr data inspect day0.tsv --format criteo"
          "sweep", "examples:\n  ctr sweep --config examples/experiments/sweep_adult.yaml"
          "compare", "examples:\n  ctr compare runs/a runs/b runs/c"
          "bench",
          "examples:\n  ctr bench\n  ctr bench --model fgcnn --batch-size 1024 --steps 10\n  ctr bench gemm\n  ctr bench score --model deepfm --json\n  mpiexec -n 2 ctr bench collectives" ]

/// The assembly's informational version (the package version, with the commit when the SDK adds it).
let version =
    match
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(
            typeof<CtrArgs>.Assembly
        )
    with
    | null -> string (typeof<CtrArgs>.Assembly.GetName().Version)
    | a -> a.InformationalVersion
