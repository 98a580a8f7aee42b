/// The one YAML reader: documents as positioned nodes, and typed readers whose every error is one line
/// `file:line:column key: expected …, got …` raised as a ConfigException. No value is evaluated as code.
/// Experiment files, model settings and dataset schemas all read through it.
namespace CtrDsl.Dsl

open System
open System.Globalization
open System.IO
open YamlDotNet.Core
open YamlDotNet.RepresentationModel

/// Where a value came from: a file position, or a command-line flag (Line = 0).
type Pos =
    { File: string
      Line: int
      Column: int }

    override p.ToString() = if p.Line = 0 then p.File else $"%s{p.File}:%d{p.Line}:%d{p.Column}"

    static member Flag(name: string) = { File = name; Line = 0; Column = 0 }

/// A configuration mistake (experiment, settings, schema): the message is one line that starts with the position.
type ConfigException(pos: Pos, message: string) =
    inherit Exception(message)
    member _.Pos = pos

[<RequireQualifiedAccess>]
type YamlNode =
    | Scalar of string * Pos
    | List of YamlNode list * Pos
    | Map of (string * Pos * YamlNode) list * Pos

    member n.Pos =
        match n with
        | YamlNode.Scalar(_, p)
        | YamlNode.List(_, p)
        | YamlNode.Map(_, p) -> p

module Yaml =
    /// Fails with one line `pos key: what`.
    let fail (pos: Pos) (key: string) (what: string) : 'a = raise (ConfigException(pos, $"%O{pos} %s{key}: %s{what}"))

    let show (n: YamlNode) =
        match n with
        | YamlNode.Scalar(s, _) -> $"\"%s{s}\""
        | YamlNode.List _ -> "a list"
        | YamlNode.Map _ -> "a mapping"

    let rec private convert (file: string) (node: YamlDotNet.RepresentationModel.YamlNode) : YamlNode =
        let pos = { File = file; Line = int node.Start.Line; Column = int node.Start.Column }

        let text (s: YamlScalarNode) =
            match s.Value with
            | null -> ""
            | v -> v

        match node with
        | :? YamlScalarNode as s -> YamlNode.Scalar(text s, pos)
        | :? YamlSequenceNode as s -> YamlNode.List([ for c in s.Children -> convert file c ], pos)
        | :? YamlMappingNode as m ->
            YamlNode.Map(
                [ for KeyValue(k, v) in m.Children ->
                      let kp = { File = file; Line = int k.Start.Line; Column = int k.Start.Column }

                      match k with
                      | :? YamlScalarNode as ks -> text ks, kp, convert file v
                      | _ -> fail kp "key" "expected a plain key" ],
                pos
            )
        | _ -> fail pos "value" "unsupported YAML node"

    /// Parses a YAML document; an empty document is an empty mapping.
    let parse (file: string) (text: string) : YamlNode =
        let stream = YamlStream()

        try
            stream.Load(new StringReader(text))
        with
        | :? YamlException as e ->
            let pos = { File = file; Line = int e.Start.Line; Column = int e.Start.Column }
            raise (ConfigException(pos, $"%O{pos} %s{e.Message}"))
        // YamlDotNet's scanner fails this way, without a position, on some unclosed flow collections (`{a: b|`).
        | :? InvalidOperationException -> raise (ConfigException(Pos.Flag file, $"%s{file}: not valid YAML (an unclosed {{ or [ ?)"))

        if stream.Documents.Count = 0 then
            YamlNode.Map([], { File = file; Line = 1; Column = 1 })
        else
            convert file stream.Documents[0].RootNode

    /// Reads and parses a file; a missing or unreadable file is one line naming it.
    let load (path: string) : YamlNode =
        let text =
            try
                File.ReadAllText path
            with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> raise (ConfigException(Pos.Flag path, $"%s{path}: file not found"))
            | :? IOException
            | :? UnauthorizedAccessException as e -> raise (ConfigException(Pos.Flag path, $"%s{path}: cannot read it (%s{e.Message})"))

        parse path text

    /// The entries of a mapping after checking every key is known: `file:line:col key: unknown; known keys: …`.
    let entries (what: string) (known: string list) (node: YamlNode) =
        match node with
        | YamlNode.Map(items, _) ->
            for k, p, _ in items do
                if not (List.contains k known) then
                    fail p k $"""unknown key in %s{what}; known keys: %s{String.Join(", ", known)}"""

            items
        | n -> fail n.Pos what $"expected a mapping, got {show n}"

    /// The value of `key` in a mapping's entries, if present.
    let tryGet (key: string) (items: (string * Pos * YamlNode) list) =
        items |> List.tryFind (fun (k, _, _) -> k = key) |> Option.map (fun (_, _, v) -> v)

    let scalar key (n: YamlNode) =
        match n with
        | YamlNode.Scalar(s, _) -> s
        | n -> fail n.Pos key $"expected a single value, got {show n}"

    let int' key lo (n: YamlNode) =
        match Int32.TryParse(scalar key n, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, v when v >= lo -> v
        | _ -> fail n.Pos key $"expected an integer >= %d{lo}, got {show n}"

    let float' key (lo: float) (hi: float) (n: YamlNode) =
        match Double.TryParse(scalar key n, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v when v >= lo && v <= hi -> v
        | _ -> fail n.Pos key $"expected a number in [%g{lo}, %g{hi}], got {show n}"

    /// Any finite number.
    let number key (n: YamlNode) =
        match Double.TryParse(scalar key n, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, v when Double.IsFinite v -> v
        | _ -> fail n.Pos key $"expected a number, got {show n}"

    let bool' key (n: YamlNode) =
        match (scalar key n).ToLowerInvariant() with
        | "true"
        | "yes" -> true
        | "false"
        | "no" -> false
        | _ -> fail n.Pos key $"expected true or false, got {show n}"

    /// One character, or `\t` / `tab`.
    let char' key (n: YamlNode) =
        match scalar key n with
        | "\\t"
        | "tab" -> '\t'
        | s when s.Length = 1 -> s[0]
        | _ -> fail n.Pos key $"expected one character (or \\t), got {show n}"

    let list key (n: YamlNode) =
        match n with
        | YamlNode.List(items, _) -> items
        | n -> fail n.Pos key $"expected a list, got {show n}"

    /// One string, or a list of them.
    let strings key (n: YamlNode) =
        match n with
        | YamlNode.Scalar(s, _) -> [ s ]
        | n -> list key n |> List.map (scalar key)

    /// One of the named options (case-insensitive).
    let choice key (options: (string * 'a) list) (n: YamlNode) =
        let v = (scalar key n).ToLowerInvariant()

        match List.tryFind (fun (name, _) -> name = v) options with
        | Some(_, x) -> x
        | None -> fail n.Pos key $"""expected one of %s{String.Join(" | ", List.map fst options)}, got {show n}"""

    /// A value parsed by `parse` (a choice's own grammar, e.g. a device name); an Error is what was expected.
    let parsed key (parse: string -> Result<'a, string>) (n: YamlNode) =
        match parse (scalar key n) with
        | Ok v -> v
        | Error expected -> fail n.Pos key $"expected %s{expected}, got {show n}"
