/// `mpiexec -n N ctr train …`: the ranks of a data-parallel run as the CLI sees them. Rank 0 leads: it builds the
/// caches, writes the run folder and prints; the other ranks train their share silently and write nothing.
module CtrDsl.Cli.Ranks

open CtrDsl.Distributed

/// MPI_COMM_WORLD when this process was started by mpiexec with more than one rank; one process otherwise.
let world () : ICommunicator = if MpiCommunicator.LaunchedSize() > 1 then MpiCommunicator.Open() else SingleProcess.Instance

let isLeader (ranks: ICommunicator) = ranks.Rank = 0

/// Runs `f` on rank 0 first and then on the others, which wait for it: what rank 0 builds (the caches, the features
/// file), the others then find and reuse. When it fails on rank 0 every rank stops (rank 0 with its own error), so
/// no rank is left waiting.
let leaderFirst (ranks: ICommunicator) (what: string) (f: unit -> 'T) : 'T =
    if ranks.Size = 1 then
        f ()
    else
        let failed = [| 0.0 |]

        if isLeader ranks then
            let result =
                try
                    Ok(f ())
                with e ->
                    Error e

            failed[0] <- (if Result.isError result then 1.0 else 0.0)
            ranks.AllReduceSum(System.Span failed)

            match result with
            | Ok r -> r
            | Error e -> raise e
        else
            ranks.AllReduceSum(System.Span failed)

            if failed[0] > 0.0 then
                Errors.failure $"rank %d{ranks.Rank}: rank 0 failed to %s{what} (its error says why)"

            f ()

/// A halt that every rank takes at the same step: the local request (a signal, --max-steps) is summed over the
/// ranks after each step, so one rank's Ctrl+C halts all of them together.
let collectiveHalt (ranks: ICommunicator) (local: int64 -> bool) : int64 -> bool =
    if ranks.Size = 1 then
        local
    else
        let flag = [| 0.0 |]

        fun steps ->
            flag[0] <- (if local steps then 1.0 else 0.0)
            ranks.AllReduceSum(System.Span flag)
            flag[0] > 0.0
