/// Finds the data an experiment names (or the bundled Adult data) and prepares its caches.
module CtrDsl.Cli.DataLoad

open System
open System.Diagnostics
open System.IO
open CtrDsl.Cli.Experiment
open CtrDsl.Data

/// Files shipped beside the executable (see Cli.fsproj): data/adult and schemas/*.yaml.
let bundled (relative: string) = Path.Combine(AppContext.BaseDirectory, relative)

let adultTrain () = bundled "data/adult/adult_train.csv.gz"
let adultTest () = bundled "data/adult/adult_test.csv.gz"

/// The schema file an experiment reads: its own, the bundled one for its format, or Adult's.
let schemaPath (e: Experiment) =
    match e.Dataset.Schema, e.Dataset.Format, e.Dataset.Train with
    | Some s, _, _ -> s
    | None, Some("criteo" | "avazu" as f), _ -> bundled $"schemas/%s{f}.yaml"
    | None, Some f, _ -> Errors.usage $"--format %s{f}: give a schema file (--schema FILE); `ctr data inspect FILE` suggests one"
    | None, None, None -> bundled "schemas/adult.yaml"
    | None, None, Some t -> Errors.usage $"%s{t}: give --format criteo|avazu or --schema FILE"

let requireFile (what: string) (path: string) =
    if Directory.Exists path then
        Errors.usage $"%s{path}: %s{what} expected, found a folder"
    elif not (File.Exists path) then
        Errors.usage $"%s{path}: %s{what} not found"

/// The data layer's settings for one command: a damaged cache is rebuilt from its source, with one line on stderr.
let private options (cacheDir: string) (threads: int) =
    if File.Exists cacheDir then
        Errors.usage $"%s{cacheDir}: cache folder expected, found a file"

    PrepareOptions(
        CacheDir = cacheDir,
        Threads = (if threads > 0 then threads else Environment.ProcessorCount),
        Warn = (fun line -> Console.Error.WriteLine $"ctr: %s{line}")
    )

/// Parses schema text; its errors are ConfigExceptions naming file:line:col (usage errors).
let parseSchema (file: string) (text: string) = CtrDsl.Dsl.Schema.SchemaYaml.parse file text

/// The experiment with the bundled Adult files filled in when it names no training data (10% held out to validate).
let withDefaults (e: Experiment) =
    match e.Dataset.Train with
    | Some _ -> e
    | None ->
        { e with
            Dataset =
                { e.Dataset with
                    Train = Some(adultTrain ())
                    Schema = Some(defaultArg e.Dataset.Schema (bundled "schemas/adult.yaml"))
                    Test = Some(defaultArg e.Dataset.Test (adultTest ()))
                    ValidRatio = (if e.Dataset.ValidRatio > 0.0 || e.Dataset.Valid.IsSome then e.Dataset.ValidRatio else 0.1) } }

type Loaded =
    { Schema: Schema
      SchemaText: string
      Features: FeatureSpace
      Train: DataCache
      Valid: DataCache option
      Test: DataCache option
      TrainPath: string
      CacheDir: string
      Seconds: float
      Log: string list
      Owned: IDisposable list }

    interface IDisposable with
        member l.Dispose() = l.Owned |> List.iter (fun d -> d.Dispose())

/// Rows of a split that may be absent (0 when it is).
let rowCount (c: DataCache option) = c |> Option.map (fun c -> c.RowCount) |> Option.defaultValue 0L

let private nonEmpty (c: DataCache | null) =
    match c with
    | null -> None
    | c when c.RowCount = 0L -> None
    | c -> Some c

/// Prepares train/valid/test. A valid ratio splits the train file (its vocabulary comes from the train rows only);
/// a test file beside it is then encoded with the same features by a second call on the same cache folder. A bad
/// value raises DataFormatException (file, line, column), which the entry point reports with the data exit code.
let prepare (e: Experiment) (cacheDir: string) (threads: int) : Loaded =
    let clock = Stopwatch.StartNew()
    let schemaFile = schemaPath e
    requireFile "schema file" schemaFile
    let schemaText = File.ReadAllText schemaFile
    let schema = parseSchema schemaFile schemaText
    let d = e.Dataset
    let train = d.Train |> Option.defaultWith (fun () -> Errors.usage "no training data (--train PATH)")
    requireFile "training file" train
    d.Valid |> Option.iter (requireFile "validation file")
    d.Test |> Option.iter (requireFile "test file")
    let options = options cacheDir threads

    let orNull (o: string option) : string | null =
        match o with
        | Some s -> s
        | None -> null

    if d.Valid.IsSome || d.ValidRatio <= 0.0 then
        let ds = Dataset.Prepare(schema, DataSources.Files(train, orNull d.Valid, orNull d.Test), options)

        { Schema = schema
          SchemaText = schemaText
          Features = ds.Features
          Train = ds.Train
          Valid = nonEmpty ds.Valid
          Test = nonEmpty ds.Test
          TrainPath = train
          CacheDir = cacheDir
          Seconds = clock.Elapsed.TotalSeconds
          Log = List.ofSeq ds.Log
          Owned = [ ds ] }
    else
        let split = SplitRule.Ratio(d.ValidRatio, 0.0, uint64 e.Training.Seed)
        let ds = Dataset.Prepare(schema, DataSources.Single(train, split), options)
        let log = ResizeArray<string>(ds.Log)
        let test = d.Test |> Option.map (fun t -> Dataset.Encode(ds.Features, t, options, log))

        { Schema = schema
          SchemaText = schemaText
          Features = ds.Features
          Train = ds.Train
          Valid = nonEmpty ds.Valid
          Test = test |> Option.bind (fun c -> nonEmpty c)
          TrainPath = train
          CacheDir = cacheDir
          Seconds = clock.Elapsed.TotalSeconds
          Log = List.ofSeq log
          Owned = ds :: (test |> Option.map (fun c -> c :> IDisposable) |> Option.toList) }

/// Encodes a new file with a trained run's features (unseen values map to OOV), cached in the run's cache folder;
/// bad values raise DataFormatException, as in <c>prepare</c>.
let encode (features: FeatureSpace) (cacheDir: string) (data: string) (threads: int) =
    requireFile "data file" data
    let cache = Dataset.Encode(features, data, options cacheDir threads)

    if cache.RowCount = 0L then
        cache.Dispose()
        Errors.data $"%s{data}: no rows"

    cache
