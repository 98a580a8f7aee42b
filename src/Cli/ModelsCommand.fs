/// `ctr models`: the zoo.
module CtrDsl.Cli.ModelsCommand

open System
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Models.Registry
open CtrDsl.Dsl

let execute (args: ParseResults<ModelsArgs>) (out: TextWriter) : int =
    if args.Contains ModelsArgs.Json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "models"
                      "models",
                      JArr
                          [ for e in all ->
                                JObj
                                    [ "name", JStr e.Name
                                      "display_name", JStr e.DisplayName
                                      "summary", JStr e.Summary
                                      "keys", JArr [ for k in e.Keys -> JStr k ] ] ] ]
            )
        )
    else
        for e in all do
            out.WriteLine($"%-9s{e.Name} %s{e.Summary}")
            out.WriteLine($"""          keys: %s{String.Join(", ", e.Keys)}""")

    ExitCode.Ok
