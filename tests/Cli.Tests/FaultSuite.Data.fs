/// The data side of the fault suite: random truncations and byte flips of cache files, data files (every format),
/// schema files and feature files, run through the real entry point. Each case ends in one of two ways:
/// - one error line on stderr that names the damaged file, a non-zero exit, no stack trace, and every file that
///   existed before unchanged; or
/// - the documented recovery: a damaged cache or feature file is rebuilt from its source (one warning line), and the
///   command's output is the one the undamaged files give.
/// Seeds are fixed, so a failure replays; the counts keep the whole suite to a few seconds.
module CtrDsl.Cli.Tests.FaultSuiteData

open System
open System.IO
open System.Text
open FsCheck
open FsCheck.FSharp
open Expecto
open CtrDsl.Testing
open CtrDsl.Cli.Tests.Support
open CtrDsl.Data

/// What is done to a file: keep its first bytes (a fraction of its length), or xor one byte with a mask.
type Damage =
    | Truncate of keep: float
    | Flip of at: float * mask: byte

    /// Applies the damage and returns the file's new bytes.
    member d.Apply(path: string) =
        let bytes = File.ReadAllBytes path

        let damaged =
            match d with
            | Truncate keep -> bytes[.. int (keep * float bytes.Length) - 1]
            | Flip(at, mask) ->
                let i = min (bytes.Length - 1) (int (at * float bytes.Length))
                bytes[i] <- bytes[i] ^^^ mask
                bytes

        File.WriteAllBytes(path, damaged)
        damaged

let private damages =
    Gen.oneof
        [ Gen.map Truncate (Gen.elements [ 0.0; 0.001; 0.01; 0.1; 0.3; 0.5; 0.7; 0.9; 0.99; 0.999 ])
          Gen.map2
              (fun at mask -> Flip(at, mask))
              (Gen.map (fun k -> float k / 1000.0) (Gen.choose (0, 999)))
              (Gen.elements [ 1uy; 0x10uy; 0x80uy; 0xffuy ]) ]

/// Runs `property` on `count` cases from a fixed seed and returns how many ran.
let private run (count: int) (seed: uint64) (gen: Gen<'T>) (property: 'T -> unit) =
    let mutable ran = 0

    let config = Config.QuickThrowOnFailure.WithMaxTest(count).WithReplay(Some { Rnd = Rnd(seed); Size = None })

    Check.One(
        config,
        Prop.forAll (Arb.fromGen gen) (fun c ->
            property c
            ran <- ran + 1)
    )

    Expect.equal ran count "ran"

/// The error contract: one line on stderr, `ctr: ` first, naming one of `names`, no exception name or stack frame.
let private oneLineNaming (names: string list) (r: Result) =
    let err = r.Err.TrimEnd()
    Expect.isTrue (r.Code = 2 || r.Code = 3) ($"exit %d{r.Code}, expected 2 or 3: %s{err}")
    Has.Not("\n", err)
    Expect.stringStarts err "ctr: " "err"
    Has.Not("Exception", err)
    Expect.isTrue (names |> List.exists (fun n -> err.Contains(Path.GetFileName n: string))) ($"%s{err} names none of %A{names}")

/// Every file under `dir`, with its bytes.
let private snapshot (dir: string) =
    Directory.GetFiles(dir, "*", SearchOption.AllDirectories) |> Array.sort |> Array.map (fun f -> f, File.ReadAllBytes f)

let private unchanged (before: (string * byte[])[]) =
    for f, bytes in before do
        Expect.isTrue (File.Exists f && File.ReadAllBytes f = bytes) ($"%s{f} changed by a command that failed")

/// A split's rows as the model reads them: labels, ids and dense values, block after block.
let private rowsOf (cache: string) =
    use c = DataCache.Open cache

    [ for b in 0 .. c.BlockCount - 1 do
          yield! c.Labels(b).ToArray() |> Array.map (fun x -> int64 (BitConverter.SingleToInt32Bits x))
          yield! c.Ids(b).ToArray() |> Array.map int64
          yield! c.Dense(b).ToArray() |> Array.map (fun x -> int64 (BitConverter.SingleToInt32Bits x)) ]

/// One small data set per record format: its data file, its schema (None: the format's bundled one) and its name.
type private Source = { Name: string; Data: string; Schema: string option; Format: string option }

let private write (dir: string) (name: string) (text: string) =
    let p = Path.Combine(dir, name)
    File.WriteAllText(p, text)
    p

let private gzip (dir: string) (name: string) (text: string) =
    let p = Path.Combine(dir, name)

    do
        use gz = new Compression.GZipStream(File.Create p, Compression.CompressionLevel.Fastest)
        gz.Write(Encoding.UTF8.GetBytes text)

    p

let private rows n (f: Random -> int -> string) =
    let rng = Random(n)
    String.Join("", [ for i in 0 .. n - 1 -> f rng i + "\n" ])

let private sources (dir: string) =
    let label (rng: Random) = rng.Next 2

    [ { Name = "csv"
        Data = write dir "d.csv" ("label,c1,c2,n1\n" + rows 240 (fun r i -> $"%d{label r},u%d{r.Next 9},v%d{r.Next 4},%.2f{r.NextDouble() * 50.0}"))
        Schema =
          Some(
              write
                  dir
                  "csv.yaml"
                  "format: csv\nlabel: label\nfields:\n  - {name: c1, kind: categorical}\n  - {name: c2, kind: categorical}\n  - {name: n1, kind: numeric, transform: standardize}\n"
          )
        Format = None }
      { Name = "tsv"
        Data = write dir "d.tsv" (rows 240 (fun r _ -> $"%d{label r}\tu%d{r.Next 9}\t%d{r.Next 100}"))
        Schema =
          Some(
              write
                  dir
                  "tsv.yaml"
                  "format: tsv\nheader: false\ncolumns: [label, c1, n1]\nlabel: label\nfields:\n  - {name: c1, kind: categorical}\n  - {name: n1, kind: numeric, transform: log1p_standardize}\n"
          )
        Format = None }
      { Name = "criteo"; Data = write dir "d.criteo" (criteoRows 3 240); Schema = None; Format = Some "criteo" }
      { Name = "libfm"
        Data = write dir "d.ffm" (rows 240 (fun r _ -> $"%d{label r} 0:%d{r.Next 9}:1 1:%d{10 + r.Next 5}:1"))
        Schema =
          Some(
              write
                  dir
                  "libfm.yaml"
                  "format: libfm\nlabel: label\nfields:\n  - {name: user, kind: categorical, column: \"0\"}\n  - {name: item, kind: categorical, column: \"1\"}\n"
          )
        Format = None }
      { Name = "libsvm"
        Data = write dir "d.svm" (rows 240 (fun r _ -> $"%d{2 * label r - 1} %d{r.Next 9}:1 %d{10 + r.Next 5}:1"))
        Schema =
          Some(write dir "libsvm.yaml" "format: libsvm\nfields:\n  - name: features\n    kind: sequence\n    max_length: 4\n    pooling: sum\n")
        Format = None }
      { Name = "csv.gz"
        Data = gzip dir "d.csv.gz" ("label,c1,c2,n1\n" + rows 240 (fun r _ -> $"%d{label r},u%d{r.Next 9},v%d{r.Next 4},%.2f{r.NextDouble() * 50.0}"))
        Schema =
          Some(
              write
                  dir
                  "gz.yaml"
                  "format: csv\nlabel: label\nfields:\n  - {name: c1, kind: categorical}\n  - {name: n1, kind: numeric, transform: standardize}\n"
          )
        Format = None }
      { Name = "avazu"
        Data =
          write
              dir
              "d.avazu.csv"
              ("id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n"
               + rows 240 (fun r i -> $"%d{i},%d{label r},14102100," + String.Join(",", [ for _ in 1..21 -> $"%x{r.Next 6}" ])))
        Schema = None
        Format = Some "avazu" } ]

/// The experiment file that prepares a source into `cache`.
let private experiment (dir: string) (s: Source) (cache: string) =
    let schema = s.Schema |> Option.map (fun p -> $"  schema: %s{p}\n") |> Option.defaultValue ""
    let format = s.Format |> Option.map (fun f -> $"  format: %s{f}\n") |> Option.defaultValue ""

    write
        dir
        $"%s{s.Name}-%s{Path.GetFileName cache}.yaml"
        $"dataset:\n  train: %s{s.Data}\n%s{schema}%s{format}  valid_ratio: 0.2\n  cache_dir: %s{cache}\n"

/// `ctr` with the data layer's warnings (written to the console's stderr) in `Err` too; the tests run one at a time.
let private ctrWarned (args: string list) =
    let previous = Console.Error
    use warnings = new StringWriter()
    Console.SetError warnings

    try
        let r = ctr args
        { r with Err = warnings.ToString() + r.Err }
    finally
        Console.SetError previous

let private prepare (config: string) = ctrWarned [ "data"; "prepare"; "--config"; config; "--threads"; "1"; "--json" ]

/// A fresh copy of one source (and its schema) in its own folder, so that damage never leaks into another case.
let private copyOf (s: Source) =
    let dir = tempDir $"fault-%s{s.Name}"

    let copy (p: string) =
        let q = Path.Combine(dir, Path.GetFileName p)
        File.Copy(p, q)
        q

    dir, { s with Data = copy s.Data; Schema = s.Schema |> Option.map copy }

let private originals = lazy (sources (tempDir "fault-sources"))

/// The rows of every split in a cache folder, by split (`….train.ctrcache`: the stem holds a hash of the source's path).
let private splits (cache: string) =
    [ for f in Directory.GetFiles(cache, "*.ctrcache") |> Array.sort -> Array.last ((Path.GetFileNameWithoutExtension f).Split('.')), rowsOf f ]

/// The undamaged outcome of a source: its caches' rows by split, keyed by file name.
let private baseline =
    lazy
        (dict
            [ for s in originals.Value ->
                  let dir, s = copyOf s
                  let cache = Path.Combine(dir, "cache")
                  let r = prepare (experiment dir s cache)
                  Expect.isTrue ((r.Code = 0)) r.Err
                  s.Name, splits cache ])

let private sameRowsAsBaseline (s: Source) (cache: string) = Expect.equal (splits cache) (baseline.Value[s.Name]) "splits cache"

let private sourceCase = Gen.elements [ 0..6 ]

let ``a truncated or flipped cache file of any format and split is rebuilt and gives the undamaged rows`` () =
    let case = Gen.zip3 sourceCase (Gen.elements [ "train"; "valid"; "test" ]) damages

    run 60 11UL case (fun (k, split, damage) ->
        let dir, s = copyOf originals.Value[k]
        let cache = Path.Combine(dir, "cache")
        let config = experiment dir s cache
        Expect.equal ((prepare config).Code) 0 "(prepare config).Code"
        let target = Directory.GetFiles(cache, $"*.%s{split}.ctrcache") |> Array.exactlyOne
        damage.Apply target |> ignore
        let r = prepare config
        Expect.isTrue ((r.Code = 0)) ($"%A{damage} of %s{target}: exit %d{r.Code}: %s{r.Err}")
        // The warning names the cache; a flip in the padding between blocks is harmless and may pass unseen.
        let warning = r.Err.TrimEnd()
        Expect.isTrue (warning = "" || (not (warning.Contains "\n") && warning.Contains target)) warning
        sameRowsAsBaseline s cache)

let ``a truncated or flipped feature file is rebuilt and gives the undamaged rows`` () =
    run 24 12UL (Gen.zip sourceCase damages) (fun (k, damage) ->
        let dir, s = copyOf originals.Value[k]
        let cache = Path.Combine(dir, "cache")
        let config = experiment dir s cache
        Expect.equal ((prepare config).Code) 0 "(prepare config).Code"
        damage.Apply(Directory.GetFiles(cache, "*.features.json") |> Array.exactlyOne) |> ignore
        let r = prepare config
        Expect.isTrue ((r.Code = 0)) ($"%A{damage}: exit %d{r.Code}: %s{r.Err}")
        sameRowsAsBaseline s cache)

let ``a truncated or flipped data file of any format is read or refused in one line, and a refusal changes no cache`` () =
    run 105 13UL (Gen.zip sourceCase damages) (fun (k, damage) ->
        let dir, s = copyOf originals.Value[k]
        let cache = Path.Combine(dir, "cache")
        let config = experiment dir s cache
        Expect.equal ((prepare config).Code) 0 "(prepare config).Code"
        let before = snapshot cache
        damage.Apply s.Data |> ignore
        let r = prepare config

        if r.Code = 0 then
            Expect.isTrue ((json r).GetProperty("train_rows").GetInt64() > 0L) r.Out
        else
            oneLineNaming [ s.Data ] r
            unchanged before)

let ``a truncated or flipped schema file is read or refused in one line naming it or the data`` () =
    let withSchema = [ 0; 1; 3; 4; 5 ]

    run 48 14UL (Gen.zip (Gen.elements withSchema) damages) (fun (k, damage) ->
        let dir, s = copyOf originals.Value[k]
        let cache = Path.Combine(dir, "cache")
        damage.Apply s.Schema.Value |> ignore
        let r = prepare (experiment dir s cache)

        if r.Code = 0 then
            Expect.isTrue ((json r).GetProperty("train_rows").GetInt64() > 0L) r.Out
        else
            oneLineNaming [ s.Schema.Value; s.Data ] r)

/// A model trained once on the csv source, and the scores it gives a fresh file through an undamaged cache.
let private trained =
    lazy
        (let dir, s = copyOf originals.Value[0]
         let run = Path.Combine(dir, "run")

         let r =
             ctr
                 [ "train"
                   "--train"
                   s.Data
                   "--schema"
                   s.Schema.Value
                   "--model"
                   "lr"
                   "--epochs"
                   "1"
                   "--threads"
                   "1"
                   "--out"
                   run ]

         Expect.isTrue ((r.Code = 0)) r.Err

         let fresh =
             write
                 dir
                 "fresh.csv"
                 ("label,c1,c2,n1\n" + rows 97 (fun r _ -> $"%d{r.Next 2},u%d{r.Next 12},v%d{r.Next 4},%.2f{r.NextDouble() * 50.0}"))

         let scores = Path.Combine(dir, "scores.txt")

         Expect.equal
             ((ctr [ "predict"; run; "--data"; fresh; "--out"; scores ]).Code)
             0
             "(ctr [ \"predict\"; run; \"--data\"; fresh; \"--out\"; scores ]).Code"

         run, fresh, File.ReadAllText scores)

let ``predict through a truncated or flipped cache rebuilds it and writes the undamaged scores`` () =
    let runDir, fresh, expected = trained.Value

    run 30 15UL damages (fun damage ->
        let encoded = Directory.GetFiles(runDir, "*.encoded.ctrcache", SearchOption.AllDirectories) |> Array.exactlyOne
        damage.Apply encoded |> ignore
        let out = Path.Combine(Path.GetTempPath(), "ctr-fault-scores-" + Guid.NewGuid().ToString("N") + ".txt")
        let r = ctrWarned [ "predict"; runDir; "--data"; fresh; "--out"; out ]
        Expect.isTrue ((r.Code = 0)) ($"%A{damage}: exit %d{r.Code}: %s{r.Err}")
        Expect.equal (File.ReadAllText out) expected "File.ReadAllText out"
        File.Delete out)

// ---- classes of fault, one case each ---------------------------------------------------------------------------

/// A csv source in a fresh folder with its experiment file and cache folder.
let private csvCase () =
    let dir, s = copyOf originals.Value[0]
    let cache = Path.Combine(dir, "cache")
    dir, s, cache, experiment dir s cache

let ``an empty, header-only, byte-order-mark-only or folder data file is one line naming it`` () =
    for content, expected in
        [ Some "", "the file is empty"
          Some "label,c1,c2,n1\n", "no data rows after the header"
          Some "\uFEFF", "the file is empty"
          None, "training file expected, found a folder" ] do
        let _, s, _, config = csvCase ()
        File.Delete s.Data

        match content with
        | Some text -> File.WriteAllText(s.Data, text)
        | None -> Directory.CreateDirectory s.Data |> ignore

        let r = prepare config
        oneLineNaming [ s.Data ] r
        Expect.stringEnds (r.Err.TrimEnd()) expected "r.Err.TrimEnd()"

let ``an empty, unclosed or folder schema file is one line naming it`` () =
    for content in [ Some ""; Some "format: csv\nlabel: label\nfields:\n  - {name: c1, kind: categorical|\n"; None ] do
        let _, s, _, config = csvCase ()
        File.Delete s.Schema.Value

        match content with
        | Some text -> File.WriteAllText(s.Schema.Value, text)
        | None -> Directory.CreateDirectory s.Schema.Value |> ignore

        oneLineNaming [ s.Schema.Value ] (prepare config)

let ``a folder in a cache file's place or a file in the cache folder's is one line naming it, an empty cache or feature file is rebuilt`` () =
    let _, s, cache, config = csvCase ()
    Expect.equal ((prepare config).Code) 0 "(prepare config).Code"
    let train = Directory.GetFiles(cache, "*.train.ctrcache") |> Array.exactlyOne
    File.WriteAllBytes(train, [||])
    File.WriteAllBytes(Directory.GetFiles(cache, "*.features.json") |> Array.exactlyOne, [||])
    let r = prepare config
    Expect.equal r.Code 0 "r.Code"

    Expect.equal
        (r.Err.TrimEnd())
        ($"ctr: %s{train}: damaged cache: 0 bytes, shorter than its 128-byte header; rebuilding it from %s{s.Data}")
        "r.Err.TrimEnd()"

    sameRowsAsBaseline s cache
    File.Delete train
    Directory.CreateDirectory train |> ignore
    let r = prepare config
    oneLineNaming [ train ] r
    Expect.stringEnds (r.Err.TrimEnd()) "a folder is in the cache file's place" "r.Err.TrimEnd()"
    let r = prepare (experiment (Path.GetDirectoryName(s.Data: string)) s s.Data)
    oneLineNaming [ s.Data ] r
    Expect.stringEnds (r.Err.TrimEnd()) "cache folder expected, found a file" "r.Err.TrimEnd()"

let ``an edited source rebuilds its caches`` () =
    let _, s, _, config = csvCase ()
    let first = prepare config
    File.AppendAllText(s.Data, "1,u1,v1,2.5\n")
    let r = prepare config
    Expect.equal r.Code 0 "r.Code"
    let rows (r: Result) = (json r).GetProperty("train_rows").GetInt64() + (json r).GetProperty("valid_rows").GetInt64()
    Expect.equal (rows r) (rows first + 1L) "rows r"
    let log = (json r).GetProperty("log")
    Has.In("rebuilt (the source changed", log[0].GetString())

let ``a byte-order mark before a headerless tsv row or a schema is dropped`` () =
    let dir, s = copyOf originals.Value[1]
    let cache = Path.Combine(dir, "cache")
    let config = experiment dir s cache
    let plain = (json (prepare config)).GetProperty("train_rows").GetInt64()
    File.WriteAllText(s.Data, File.ReadAllText s.Data, UTF8Encoding(true))
    File.WriteAllText(s.Schema.Value, File.ReadAllText s.Schema.Value, UTF8Encoding(true))
    let r = prepare config
    Expect.isTrue ((r.Code = 0)) r.Err
    Expect.equal ((json r).GetProperty("train_rows").GetInt64()) plain "(json r).GetProperty(\"train_rows\").GetInt64()"

let ``a number beyond float32 is a data error naming file, line, column and field`` () =
    for transform in [ "standardize"; "none" ] do
        let dir, s, cache, config = csvCase ()
        File.WriteAllText(s.Schema.Value, File.ReadAllText(s.Schema.Value).Replace("standardize", transform))
        let lines = File.ReadAllLines s.Data
        lines[5] <- "1,u1,v1,1e39"
        File.WriteAllLines(s.Data, lines)
        let r = prepare config
        Expect.equal r.Code 3 "r.Code"

        Expect.equal
            (r.Err.TrimEnd())
            ($"ctr: %s{s.Data}:6:9: column n1 (4 of 4): expected a number within float32's range (±3.4e38), got \"1e39\"")
            "r.Err.TrimEnd()"

        ignore (dir, cache)

let tests =
    testList
        "FaultSuiteData"
        [ testCase
              "a truncated or flipped cache file of any format and split is rebuilt and gives the undamaged rows"
              ``a truncated or flipped cache file of any format and split is rebuilt and gives the undamaged rows``
          testCase
              "a truncated or flipped feature file is rebuilt and gives the undamaged rows"
              ``a truncated or flipped feature file is rebuilt and gives the undamaged rows``
          testCase
              "a truncated or flipped data file of any format is read or refused in one line, and a refusal changes no cache"
              ``a truncated or flipped data file of any format is read or refused in one line, and a refusal changes no cache``
          testCase
              "a truncated or flipped schema file is read or refused in one line naming it or the data"
              ``a truncated or flipped schema file is read or refused in one line naming it or the data``
          testCase
              "predict through a truncated or flipped cache rebuilds it and writes the undamaged scores"
              ``predict through a truncated or flipped cache rebuilds it and writes the undamaged scores``
          testCase
              "an empty, header-only, byte-order-mark-only or folder data file is one line naming it"
              ``an empty, header-only, byte-order-mark-only or folder data file is one line naming it``
          testCase "an empty, unclosed or folder schema file is one line naming it" ``an empty, unclosed or folder schema file is one line naming it``
          testCase
              "a folder in a cache file's place or a file in the cache folder's is one line naming it, an empty cache or feature file is rebuilt"
              ``a folder in a cache file's place or a file in the cache folder's is one line naming it, an empty cache or feature file is rebuilt``
          testCase "an edited source rebuilds its caches" ``an edited source rebuilds its caches``
          testCase
              "a byte-order mark before a headerless tsv row or a schema is dropped"
              ``a byte-order mark before a headerless tsv row or a schema is dropped``
          testCase
              "a number beyond float32 is a data error naming file, line, column and field"
              ``a number beyond float32 is a data error naming file, line, column and field`` ]
