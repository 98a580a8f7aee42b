module CtrDsl.Cli.CompareCommand

open System.IO
open Argu
open CtrDsl.Cli.Args

let execute (args: ParseResults<CompareArgs>) (out: TextWriter) : int =
    ignore args
    ignore out
    Errors.failure "compare: not implemented yet"
