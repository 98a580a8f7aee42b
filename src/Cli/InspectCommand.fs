module CtrDsl.Cli.InspectCommand

open System.IO
open Argu
open CtrDsl.Cli.Args

let execute (args: ParseResults<InspectArgs>) (out: TextWriter) : int =
    ignore args
    ignore out
    Errors.failure "data inspect: not implemented yet"
