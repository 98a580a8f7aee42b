/// Experiment YAML as positioned nodes: every error names `file:line:column key:`. No value is evaluated as code.
module CtrDsl.Cli.Yaml

open System
open System.Globalization
open System.IO
open CtrDsl.Models.Registry
open YamlDotNet.Core
open YamlDotNet.RepresentationModel

/// Where a value came from: a file position, or a command-line flag (Line = 0).
type Pos =
    { File: string
      Line: int
      Column: int }

    override p.ToString() =
        if p.Line = 0 then p.File else $"%s{p.File}:%d{p.Line}:%d{p.Column}"

    static member Flag(name: string) = { File = name; Line = 0; Column = 0 }

type Node =
    | Scalar of string * Pos
    | List of Node list * Pos
    | Map of (string * Pos * Node) list * Pos

    member n.Pos =
        match n with
        | Scalar(_, p)
        | List(_, p)
        | Map(_, p) -> p

/// Fails with one line `pos key: what`.
let fail (pos: Pos) (key: string) (what: string) : 'a =
    Errors.usage $"%O{pos} %s{key}: %s{what}"

let show (n: Node) =
    match n with
    | Scalar(s, _) -> $"\"%s{s}\""
    | List _ -> "a list"
    | Map _ -> "a mapping"

let rec private convert (file: string) (node: YamlNode) : Node =
    let pos = { File = file; Line = int node.Start.Line; Column = int node.Start.Column }
    match node with
    | :? YamlScalarNode as s ->
        Scalar((match s.Value with
                | null -> ""
                | v -> v), pos)
    | :? YamlSequenceNode as s -> List([ for c in s.Children -> convert file c ], pos)
    | :? YamlMappingNode as m ->
        Map([ for KeyValue(k, v) in m.Children ->
                  let kp = { File = file; Line = int k.Start.Line; Column = int k.Start.Column }
                  match k with
                  | :? YamlScalarNode as ks ->
                      (match ks.Value with
                       | null -> ""
                       | v -> v), kp, convert file v
                  | _ -> fail kp "key" "expected a plain key" ],
            pos)
    | _ -> fail pos "value" "unsupported YAML node"

/// Parses a YAML document; an empty document is an empty mapping.
let parse (file: string) (text: string) : Node =
    let stream = YamlStream()
    try
        stream.Load(new StringReader(text))
    with :? YamlException as e ->
        Errors.usage $"%s{file}:%d{e.Start.Line}:%d{e.Start.Column} %s{e.Message}"
    if stream.Documents.Count = 0 then Map([], { File = file; Line = 1; Column = 1 })
    else convert file stream.Documents[0].RootNode

let load (path: string) : Node =
    if not (File.Exists path) then Errors.usage $"%s{path}: file not found"
    parse path (File.ReadAllText path)

/// The entries of a mapping after checking every key is known: `file:line:col key: unknown; known keys: …`.
let entries (what: string) (known: string list) (node: Node) =
    match node with
    | Map(items, _) ->
        for k, p, _ in items do
            if not (List.contains k known) then
                fail p k $"""unknown key in %s{what}; known keys: %s{String.Join(", ", known)}"""
        items
    | n -> fail n.Pos what $"expected a mapping, got {show n}"

let scalar key (n: Node) =
    match n with
    | Scalar(s, _) -> s
    | n -> fail n.Pos key $"expected a single value, got {show n}"

let int' key lo (n: Node) =
    match Int32.TryParse(scalar key n, NumberStyles.Integer, CultureInfo.InvariantCulture) with
    | true, v when v >= lo -> v
    | _ -> fail n.Pos key $"expected an integer >= %d{lo}, got {show n}"

let float' key (lo: float) (hi: float) (n: Node) =
    match Double.TryParse(scalar key n, NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, v when v >= lo && v <= hi -> v
    | _ -> fail n.Pos key $"expected a number in [%g{lo}, %g{hi}], got {show n}"

let bool' key (n: Node) =
    match (scalar key n).ToLowerInvariant() with
    | "true" | "yes" -> true
    | "false" | "no" -> false
    | _ -> fail n.Pos key $"expected true or false, got {show n}"

let choice key (options: (string * 'a) list) (n: Node) =
    let v = (scalar key n).ToLowerInvariant()
    match List.tryFind (fun (name, _) -> name = v) options with
    | Some(_, x) -> x
    | None -> fail n.Pos key $"""expected one of %s{String.Join(" | ", List.map fst options)}, got {show n}"""

/// A model setting's value: an int, a float, a bool, a list of ints, else a string.
let rec setting key (n: Node) : SettingValue =
    match n with
    | Scalar(s, _) ->
        match Int32.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, i -> Int i
        | _ ->
            match Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, f -> Float f
            | _ ->
                match s.ToLowerInvariant() with
                | "true" -> Bool true
                | "false" -> Bool false
                | _ -> Text s
    | List(items, _) ->
        Ints [ for i in items ->
                   match setting key i with
                   | Int v -> v
                   | _ -> fail i.Pos key $"expected a list of integers, got {show i} in the list" ]
    | Map _ -> fail n.Pos key "expected a number, a boolean, a string or a list of integers, got a mapping"

/// Parses a flag's text the way a YAML scalar or flow list (`[400,400]` or `400,400`) would be.
let settingOfText (flag: string) (text: string) : SettingValue =
    let t = text.Trim()
    let parts = t.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    let isInt (p: string) = fst (Int32.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture))
    if t.StartsWith "[" || (t.Contains "," && Array.forall isInt parts) then
        // [400, 400] or 400,400: a list of integers.
        Ints [ for p in parts ->
                   match Int32.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture) with
                   | true, v -> v
                   | _ -> Errors.usage $"%s{flag}: expected a list of integers, got \"%s{text}\"" ]
    else setting flag (Scalar(t, Pos.Flag flag))
