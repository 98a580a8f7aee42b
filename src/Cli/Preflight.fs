/// Checks a command makes before it reads data or writes anything: sizes a flag asks for that the machine cannot give,
/// and paths of the wrong kind. Each failure is a usage error naming the flag (docs/cli.md, "Exit codes").
module CtrDsl.Cli.Preflight

open System
open System.IO
open CtrDsl.Autodiff
open CtrDsl.Dsl

/// `--threads N`: 0 (all cores) up to the compute pool's most.
let threads (flag: string) (n: int) =
    if n < 0 || n > CtrDsl.Cpu.WorkerPool.MaxThreads then
        Errors.usage $"%s{flag}: expected 0 (all cores) to %d{CtrDsl.Cpu.WorkerPool.MaxThreads} threads, got %d{n}"

let private gib (bytes: int64) = $"%.1f{float bytes / float (1L <<< 30)} GiB"

/// The memory this process may use: physical memory or the container's limit, as the GC sees it.
let available () = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes

/// Refuses a batch whose plan over `model` (training when `train`, else scoring) needs more memory than the machine
/// has, or a buffer longer than a .NET array, naming `flag` and what the batch would take. The sizes come from
/// `Plan.Footprint`, before anything is allocated.
let batch (flag: string) (model: BuiltModel) (train: bool) (rows: int) =
    let loss: CtrDsl.Graph.Node | null = if train then model.Loss else null
    let at n = Plan.Footprint(model.Graph, n, loss, model.Output)
    let f = at rows
    let room = available ()

    if f.Bytes > room || f.LongestBuffer > int64 Array.MaxLength then
        // Rows that fit: both sizes grow linearly with the batch (Plan.Footprint), so follow the line from 1 row.
        let one = at 1
        let perRow (big: int64) (small: int64) = max 1L ((big - small) / max 1L (int64 rows - 1L))
        let fits = min (room / perRow f.Bytes one.Bytes) (int64 Array.MaxLength / perRow f.LongestBuffer one.LongestBuffer)
        let what = if train then "training" else "scoring"

        Errors.usage
            $"%s{flag} %d{rows}: the %s{what} plan would need %s{gib f.Bytes} of buffers, one of them %s{gib (f.LongestBuffer * 4L)}; this machine has %s{gib room} and a buffer holds at most %s{gib (int64 Array.MaxLength * 4L)}: about %d{max 1L fits} rows fit"

/// Refuses `count` values of `bytesEach` bytes in one .NET array when they cannot be: longer than an array holds, or
/// more than this machine's memory.
let elements (flag: string) (count: int64) (bytesEach: int64) =
    let room = available ()

    if count > int64 Array.MaxLength || count * bytesEach > room then
        Errors.usage
            $"%s{flag}: %d{count} values would need %s{gib (min (count * bytesEach) Int64.MaxValue)} in one buffer; a buffer holds at most %d{Array.MaxLength} values and this machine has %s{gib room}"

/// `--out DIR` of a run: a folder, new or existing, never a file.
let runFolder (flag: string) (path: string) =
    if File.Exists path then
        Errors.usage $"%s{flag} %s{path}: is a file; expected a run folder"

    // The nearest existing ancestor must be a folder: a file there makes the folder impossible to create.
    let rec check (p: string | null) =
        match p with
        | null -> ()
        | p when Directory.Exists p -> ()
        | p when File.Exists p -> Errors.usage $"%s{flag} %s{path}: %s{p} is a file; expected a folder"
        | p -> check (Path.GetDirectoryName p)

    check (Path.GetDirectoryName(Path.GetFullPath path))

/// `--out FILE` of scores: a file in an existing folder, never a folder.
let outputFile (flag: string) (path: string) =
    if Directory.Exists path then
        Errors.usage $"%s{flag} %s{path}: is a folder; expected a file name"

    match Path.GetDirectoryName(Path.GetFullPath path) with
    | null -> ()
    | parent when not (Directory.Exists parent) -> Errors.usage $"%s{flag} %s{path}: the folder %s{parent} does not exist"
    | _ -> ()
