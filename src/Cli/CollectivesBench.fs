/// `mpiexec -n N ctr bench collectives`: latency and bandwidth of the collectives data-parallel training uses,
/// all-reduce (dense gradients), all-gather (replicated tables' sparse rows) and all-to-all (sharded tables' ids,
/// rows and gradients), from 4 B to 16 MiB per rank.
module CtrDsl.Cli.CollectivesBench

open System
open System.Diagnostics
open System.IO
open CtrDsl.Distributed
open CtrDsl.Dsl

/// Median seconds of `repeats` calls after 3 warm-up calls, every rank starting together.
let private time (comm: ICommunicator) (repeats: int) (f: unit -> unit) =
    for _ in 1..3 do
        f ()

    let times =
        [| for _ in 1..repeats ->
               comm.Barrier()
               let t0 = Stopwatch.GetTimestamp()
               f ()
               float (Stopwatch.GetTimestamp() - t0) / float Stopwatch.Frequency |]

    // Every rank reports the same figure: the slowest rank's median.
    let median = (Array.sort times)[repeats / 2]
    let medians = Array.zeroCreate<float32> comm.Size
    comm.AllGatherV(ReadOnlySpan [| float32 median |], Span medians, ReadOnlySpan(Array.create comm.Size 1))
    float (Array.max medians)

/// Checks the all-to-all before timing it: rank r sends q + 1 copies of 1000·r + q to rank q.
let private checkAllToAll (comm: ICommunicator) =
    let n, r = comm.Size, comm.Rank

    let send =
        [| for q in 0 .. n - 1 do
               for _ in 0..q -> 1000 * r + q |]

    let got = Array.zeroCreate<int> (n * (r + 1))
    comm.AllToAllV(ReadOnlySpan send, ReadOnlySpan(Array.init n (fun q -> q + 1)), Span got, ReadOnlySpan(Array.create n (r + 1)))

    let expected =
        [| for p in 0 .. n - 1 do
               for _ in 0..r -> 1000 * p + r |]

    if got <> expected then
        failwith $"all-to-all: rank %d{r} received %A{got}, expected %A{expected}"

let run (comm: ICommunicator) (json: bool) (out: TextWriter) =
    checkAllToAll comm
    let sizes = [ 1; 16; 256; 4096; 65536; 1 <<< 20; 1 <<< 22 ] // floats per rank: 4 B … 16 MiB
    let counts = Array.zeroCreate<int> comm.Size

    let rows =
        [ for n in sizes do
              let data = Array.create n 1.0f
              let repeats = if n >= (1 <<< 20) then 9 else 51
              let reduce = time comm repeats (fun () -> comm.AllReduceSum(data.AsSpan()))
              Array.fill counts 0 counts.Length n
              let all = Array.zeroCreate<float32> (n * comm.Size)
              let gather = time comm repeats (fun () -> comm.AllGatherV(ReadOnlySpan data, Span all, ReadOnlySpan counts))
              // All-to-all of the same bytes per rank: n / N floats to each rank (the remainder stays home).
              let share = Array.create comm.Size (n / comm.Size)
              let received = Array.zeroCreate<float32> n

              let exchange =
                  time comm repeats (fun () -> comm.AllToAllV(ReadOnlySpan data, ReadOnlySpan share, Span received, ReadOnlySpan share))

              yield n * 4, reduce, gather, exchange ]

    if comm.Rank = 0 then
        let cpu = CtrDsl.Diagnostics.Machine.CpuName()

        if json then
            let table =
                [ for bytes, reduce, gather, exchange in rows ->
                      JObj
                          [ "bytes", JInt(int64 bytes)
                            "allreduce_seconds", JNum reduce
                            "allgather_seconds", JNum gather
                            "alltoall_seconds", JNum exchange ] ]

            out.WriteLine(Json.serialize (JObj [ "ranks", JInt(int64 comm.Size); "cpu", JStr cpu; "rows", JArr table ]))
        else
            out.WriteLine($"collectives over %d{comm.Size} ranks (MPI, loopback), %s{cpu}; median of the slowest rank")
            out.WriteLine("  bytes/rank   all-reduce            all-gather            all-to-all")

            for bytes, reduce, gather, exchange in rows do
                // Bus bandwidth as NCCL reports it: all-reduce moves 2(n−1)/n of the buffer per rank, all-gather (n−1)/n
                // of the gathered buffer, all-to-all (n−1)/n of its buffer (the rest stays on the rank).
                let n = float comm.Size
                let busReduce = 2.0 * (n - 1.0) / n * float bytes / reduce / 1e9
                let busGather = (n - 1.0) / n * float bytes * n / gather / 1e9
                let busExchange = (n - 1.0) / n * float bytes / exchange / 1e9

                out.WriteLine(
                    $"  %10d{bytes}   %8.1f{reduce * 1e6} µs %6.2f{busReduce} GB/s   %8.1f{gather * 1e6} µs %6.2f{busGather} GB/s   %8.1f{exchange * 1e6} µs %6.2f{busExchange} GB/s"
                )

    0
