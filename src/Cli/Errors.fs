/// Exit codes and the one-line errors a user's mistake produces.
namespace CtrDsl.Cli

/// The process exit codes (docs/cli.md lists them).
module ExitCode =
    [<Literal>]
    let Ok = 0

    /// Training or I/O failed at run time (e.g. a checkpoint cannot be written).
    [<Literal>]
    let Failure = 1

    /// Bad arguments, a bad experiment file, an unknown model or key, a missing file.
    [<Literal>]
    let Usage = 2

    /// The data is malformed (the message names file:line:column).
    [<Literal>]
    let Data = 3

    /// The loss became NaN or infinite.
    [<Literal>]
    let Divergence = 4

    /// Ctrl+C during training: the position is checkpointed and `ctr train --resume RUN` continues.
    [<Literal>]
    let Interrupted = 130

/// A user's mistake: one line for stderr and the exit code.
exception CliError of code: int * message: string

module Errors =
    let usage message = raise (CliError(ExitCode.Usage, message))
    let data message = raise (CliError(ExitCode.Data, message))
    let failure message = raise (CliError(ExitCode.Failure, message))
