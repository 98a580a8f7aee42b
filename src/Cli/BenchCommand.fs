module CtrDsl.Cli.BenchCommand

open System.IO
open Argu
open CtrDsl.Cli.Args

let execute (args: ParseResults<BenchArgs>) (out: TextWriter) : int =
    ignore args
    ignore out
    Errors.failure "bench: not implemented yet"
