/// `ctr data inspect FILE`: reads the first rows of a delimited, Criteo or libFM file and reports, per column, the
/// missing rate, the distinct values seen and a guessed kind, then a schema YAML to start from.
module CtrDsl.Cli.InspectCommand

open System
open System.Collections.Generic
open System.Globalization
open System.IO
open System.IO.Compression
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl

type private Column = { Name: string; mutable Missing: int64; mutable Numeric: int64; Distinct: HashSet<string> }

/// Distinct values are counted up to this many per column ("≥ cap" beyond).
let private cap = 100_000

let private openText (path: string) : TextReader =
    let stream: Stream = File.OpenRead path

    let stream =
        if path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) then
            new GZipStream(stream, CompressionMode.Decompress) :> Stream
        else
            stream

    new StreamReader(stream)

let private isNumber (s: string) = fst (Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture))

let execute (args: ParseResults<InspectArgs>) (out: TextWriter) : int =
    let path = args.GetResult InspectArgs.File
    DataLoad.requireFile "data file" path
    let maxRows = args.GetResult(InspectArgs.Rows, 100_000)
    use reader = openText path

    let first =
        match reader.ReadLine() with
        | null -> Errors.data $"%s{path}: the file is empty"
        | l -> l

    let format =
        match args.TryGetResult InspectArgs.Format with
        | Some f ->
            match f.ToLowerInvariant() with
            | "criteo"
            | "avazu"
            | "csv"
            | "tsv"
            | "libfm" as f -> f
            | f -> Errors.usage $"--format: expected criteo | avazu | csv | tsv | libfm, got \"%s{f}\""
        | None ->
            let cells = first.Split('\t')

            if cells.Length = 40 && isNumber cells[0] then
                "criteo"
            elif cells.Length > 1 then
                "tsv"
            elif first.Split(' ') |> Array.skip 1 |> Array.exists (fun t -> t.Split(':').Length = 3) then
                "libfm"
            else
                "csv"

    let delimiter =
        match format with
        | "criteo"
        | "tsv" -> '\t'
        | "libfm" -> ' '
        | _ -> ','

    let split (line: string) =
        if format = "libfm" then
            // label, then field:feature:value tokens: one column per field, its value the feature id.
            let tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)

            [| yield "label", (if tokens.Length > 0 then tokens[0] else "")
               for t in Seq.skip 1 tokens do
                   match t.Split(':') with
                   | [| f; feature; _ |] -> yield $"field_%s{f}", feature
                   | _ -> () |]
        else
            line.Split(delimiter) |> Array.mapi (fun i c -> string i, c.Trim('"'))

    let firstCells = split first

    let header =
        match format with
        | "criteo"
        | "libfm" -> None
        | _ when firstCells |> Array.forall (fun (_, c) -> not (isNumber c)) -> Some(firstCells |> Array.map snd)
        | _ -> None

    let names (cells: (string * string)[]) =
        match format, header with
        | "criteo", _ -> Array.concat [ [| "label" |]; [| for i in 1..13 -> $"I%d{i}" |]; [| for i in 1..26 -> $"C%d{i}" |] ]
        | _, Some h -> h
        | "libfm", _ -> cells |> Array.map fst
        | _ -> cells |> Array.mapi (fun i _ -> $"col%d{i + 1}")

    let columns = Dictionary<string, Column>()
    let order = List<string>()
    let mutable rows = 0L

    let add (cells: (string * string)[]) =
        let n = names cells

        cells
        |> Array.iteri (fun i (_, v) ->
            let name = if i < n.Length then n[i] else $"col%d{i + 1}"

            let c =
                match columns.TryGetValue name with
                | true, c -> c
                | _ ->
                    let c = { Name = name; Missing = rows; Numeric = 0L; Distinct = HashSet() }
                    columns[name] <- c
                    order.Add name
                    c

            if v = "" then
                c.Missing <- c.Missing + 1L
            else
                if isNumber v then
                    c.Numeric <- c.Numeric + 1L

                if c.Distinct.Count < cap then
                    c.Distinct.Add v |> ignore)

        rows <- rows + 1L

    if header.IsNone then
        add firstCells

    let mutable line = reader.ReadLine()

    while not (isNull line) && rows < int64 maxRows do
        add (split (nonNull line))
        line <- reader.ReadLine()

    let labelName =
        order
        |> Seq.tryFind (fun n -> List.contains (n.ToLowerInvariant()) [ "label"; "click"; "clicked"; "y"; "target" ])
        |> Option.defaultValue order[0]

    let kind (c: Column) =
        let present = rows - c.Missing

        if c.Name = labelName then
            "label"
        elif present > 0L && c.Numeric = present && c.Distinct.Count > 20 && format <> "libfm" then
            "numeric"
        else
            "categorical"

    let cols = [ for n in order -> columns[n] ]
    let rate (c: Column) = float c.Missing / float (max 1L rows)
    let distinct (c: Column) = if c.Distinct.Count >= cap then $"≥%d{cap}" else string c.Distinct.Count

    let schemaFormat =
        match format with
        | "criteo" -> "criteo"
        | "libfm" -> "libfm"
        | "tsv" -> "tsv"
        | _ -> "csv"

    let byKind k = cols |> List.filter (fun c -> kind c = k) |> List.map (fun c -> c.Name)

    let suggestion =
        [ yield $"format: %s{schemaFormat}"
          if header.IsNone && (format = "csv" || format = "tsv") then
              yield
                  $"""header: false
columns: [%s{String.Join(", ", order)}]"""
          if format <> "criteo" && format <> "libfm" then
              yield $"label: %s{labelName}"
          yield "fields:"
          match byKind "numeric" with
          | [] -> ()
          | n ->
              yield
                  $"""  - names: [%s{String.Join(", ", n)}]
    kind: numeric
    transform: log1p_standardize"""
          match byKind "categorical" with
          | [] -> ()
          | c ->
              yield
                  $"""  - names: [%s{String.Join(", ", c)}]
    kind: categorical""" ]
        |> fun l -> String.Join("\n", l) + "\n"

    if args.Contains InspectArgs.Json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "data inspect"
                      "file", JStr path
                      "format", JStr format
                      "rows", JInt rows
                      "columns",
                      JArr
                          [ for c in cols ->
                                JObj
                                    [ "name", JStr c.Name
                                      "kind", JStr(kind c)
                                      "missing_rate", JNum(rate c)
                                      "distinct", JInt(int64 c.Distinct.Count)
                                      "distinct_capped", JBool(c.Distinct.Count >= cap) ] ]
                      "schema", JStr suggestion ]
            )
        )
    else
        out.WriteLine($"""%s{path}: %s{format}, %d{rows} rows read%s{if rows >= int64 maxRows then " (--rows limit)" else ""}""")

        out.Write(
            Table.render
                [ "column"; "kind"; "missing"; "distinct" ]
                [ for c in cols -> [ c.Name; kind c; (rate c).ToString("P1", CultureInfo.InvariantCulture); distinct c ] ]
        )

        out.WriteLine("\nsuggested schema (save as a .yaml file and pass with --schema):")
        out.Write(suggestion)

    ExitCode.Ok
