module CtrDsl.Cli.SweepCommand

open System.IO
open Argu
open CtrDsl.Cli.Args

let execute (args: ParseResults<SweepArgs>) (out: TextWriter) : int =
    ignore args
    ignore out
    Errors.failure "sweep: not implemented yet"
