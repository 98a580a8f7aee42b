/// `mpiexec -n 2 ctr train`: real MPI ranks (MPICH), loopback only, every process bounded in time. Skipped with a
/// message where mpiexec is not installed (Debian: mpich); CI installs it.
module CtrDsl.Cli.Tests.MpiTests

open System
open System.Diagnostics
open System.IO
open Expecto
open CtrDsl.Cli.Tests.Support

let private mpiexec =
    (Environment.GetEnvironmentVariable "PATH" |> string).Split(':')
    |> Array.map (fun d -> Path.Combine(d, "mpiexec"))
    |> Array.tryFind File.Exists

let private ctrDll = Path.Combine(AppContext.BaseDirectory, "ctr.dll")

/// Starts `mpiexec -n ranks dotnet ctr.dll args` on loopback; the caller waits and reads.
let private start (ranks: int) (args: string list) =
    let info = ProcessStartInfo(mpiexec.Value, RedirectStandardOutput = true, RedirectStandardError = true)

    for a in [ "-n"; string ranks; "-hosts"; "localhost"; "dotnet"; ctrDll ] @ args do
        info.ArgumentList.Add a

    let p = Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p, out, err

/// Waits at most `seconds` (then kills the whole job and fails): exit code, stdout, stderr.
let private finish (seconds: int) (p: Process, out: Threading.Tasks.Task<string>, err: Threading.Tasks.Task<string>) =
    if not (p.WaitForExit(seconds * 1000)) then
        p.Kill true
        failwith $"mpiexec did not end within {seconds} s"

    p.ExitCode, out.Result, err.Result

/// Skips where mpiexec is missing, unless CTRDSL_REQUIRE_MPI=1 (CI installs MPICH, so there a skip is a failure).
let requireMpi () =
    if mpiexec.IsNone then
        if Environment.GetEnvironmentVariable "CTRDSL_REQUIRE_MPI" = "1" then
            failtest "CTRDSL_REQUIRE_MPI=1 but mpiexec is not on PATH"

        skiptest "mpiexec is not installed (Debian: apt-get install mpich); the MPI tests need it"

let private testAuc (summary: Text.Json.JsonElement) = summary.GetProperty("metrics").GetProperty("test").GetProperty("auc").GetDouble()

let tests =
    testList
        "MpiTests"
        [ testCase "mpiexec -n 2 ctr train ends where one process ends, and rank 0 alone writes the run"
          <| fun () ->
              requireMpi ()
              let dir = tempDir "mpi"
              let train, test = criteoFiles dir
              let alone = ctr (smallRun train test (Path.Combine(dir, "alone")) @ [ "--json" ])
              Expect.equal alone.Code 0 alone.Err
              let code, out, err = start 2 (smallRun train test (Path.Combine(dir, "ranks")) @ [ "--json" ]) |> finish 240
              Expect.equal code 0 err
              // One JSON summary: rank 1 prints nothing.
              let summary = Text.Json.JsonDocument.Parse(out.Trim()).RootElement
              let a, b = testAuc (json alone), testAuc summary
              Expect.isLessThan (abs (a - b)) 1e-4 $"test AUC {a} alone, {b} on two ranks"
              Expect.isTrue (File.Exists(Path.Combine(dir, "ranks", "checkpoint.ckpt"))) "rank 0 wrote the checkpoint"

          testCase "a rank killed mid-run ends the job within seconds, and two ranks resume it"
          <| fun () ->
              requireMpi ()
              let dir = tempDir "mpi-kill"
              let train, test = criteoFiles dir
              let run = Path.Combine(dir, "run")
              // 30 short epochs, a checkpoint every 5 steps: the kill lands mid-run, after a last.ckpt exists.
              let flags = smallRun train test run @ [ "--epochs"; "30"; "--eval-every"; "5" ]
              let p, out, err = start 2 flags
              let last = Path.Combine(run, "last.ckpt")
              let clock = Stopwatch.StartNew()

              while not (File.Exists last) && clock.Elapsed < TimeSpan.FromSeconds 120.0 && not p.HasExited do
                  Threading.Thread.Sleep 200

              Expect.isTrue (File.Exists last) "a checkpoint within 120 s"
              // Kill one rank (the youngest ctr process of this run), as a crash would.
              let rank =
                  Process.GetProcessesByName "dotnet"
                  |> Array.filter (fun q ->
                      try
                          File.ReadAllText($"/proc/{q.Id}/cmdline").Contains run
                      with _ ->
                          false)
                  |> Array.maxBy (fun q -> q.StartTime)

              let killedAt = Stopwatch.StartNew()
              rank.Kill()
              let code, _, _ = finish 60 (p, out, err)
              Expect.notEqual code 0 "the job fails"
              Expect.isLessThan killedAt.Elapsed.TotalSeconds 30.0 "the other rank does not hang"
              // The last checkpoint resumes on two ranks.
              let code, _, err = start 2 [ "train"; "--resume"; run; "--epochs"; "30" ] |> finish 240
              Expect.equal code 0 err

          testCase "mpiexec -n 2 with sharded tables ends where one process ends, and one process evaluates its checkpoint"
          <| fun () ->
              requireMpi ()
              let dir = tempDir "mpi-shard"
              let train, test = criteoFiles dir
              let config = Path.Combine(dir, "shard.yaml")
              File.WriteAllText(config, "training:\n  tables: shard\n")
              let alone = ctr (smallRun train test (Path.Combine(dir, "alone")) @ [ "--json" ])
              Expect.equal alone.Code 0 alone.Err
              let run = Path.Combine(dir, "ranks")

              let code, out, err =
                  start 2 ([ "train"; "--config"; config ] @ List.tail (smallRun train test run) @ [ "--json" ]) |> finish 240

              Expect.equal code 0 err
              let a, b = testAuc (json alone), testAuc (Text.Json.JsonDocument.Parse(out.Trim()).RootElement)
              Expect.isLessThan (abs (a - b)) 1e-4 $"test AUC {a} alone, {b} on two ranks with sharded tables"
              Expect.stringContains (File.ReadAllText(Path.Combine(run, "config.yaml"))) "tables: shard" "the run keeps its placement"
              // Each rank wrote its shard file beside the checkpoint; eval, one process, assembles them.
              for r in 0..1 do
                  Expect.equal (Directory.GetFiles(run, $"checkpoint.ckpt.g*.shard-%d{r}-of-2").Length) 1 $"rank {r}'s shard of the best checkpoint"

              let e = ctr [ "eval"; run; "--data"; test; "--json" ]
              Expect.equal e.Code 0 e.Err
              // Two ranks resume from their own shard files; one process resumes by assembling them.
              let code, out, err = start 2 [ "train"; "--resume"; run; "--epochs"; "3"; "--json" ] |> finish 240
              Expect.equal code 0 err
              let resumed = Text.Json.JsonDocument.Parse(out.Trim()).RootElement
              Expect.equal (resumed.GetProperty("epochs_completed").GetInt32()) 3 "two ranks trained the third epoch"
              let one = ctr [ "train"; "--resume"; run; "--epochs"; "4"; "--json" ]
              Expect.equal one.Code 0 one.Err
              // One process wrote last.ckpt whole: the two ranks' shard files of it are gone.
              Expect.isEmpty (Directory.GetFiles(run, "last.ckpt.g*.shard-*")) "one process's last.ckpt supersedes its shard files"

          testCase "mpiexec -n 2: buckets overlapped with the backward pass give the blocking exchange's bits; bf16 is close"
          <| fun () ->
              requireMpi ()
              let dir = tempDir "mpi-exchange"
              let train, test = criteoFiles dir

              // The blocking exchange (one all-reduce after the backward pass), buckets of 1 KiB (a parameter larger
              // than that alone, small ones sharing) and the default 1 MiB, and bfloat16.
              let runWith (name: string) (training: string) =
                  let config = Path.Combine(dir, name + ".yaml")
                  File.WriteAllText(config, "training:\n" + training)
                  let run = Path.Combine(dir, name)

                  let code, out, err =
                      start 2 ([ "train"; "--config"; config ] @ List.tail (smallRun train test run) @ [ "--json" ]) |> finish 240

                  Expect.equal code 0 err
                  let parameters = CtrDsl.Training.Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Parameters
                  [ for t in parameters -> t.Name, t.Values ], testAuc (Text.Json.JsonDocument.Parse(out.Trim()).RootElement)

              let blocking, aucBlocking = runWith "blocking" "  exchange_bucket_kb: 0\n"
              let small, aucSmall = runWith "small" "  exchange_bucket_kb: 1\n"
              let standard, _ = runWith "standard" "  exchange_bucket_kb: 1024\n"
              let bf16, aucBf16 = runWith "bf16" "  exchange: bf16\n"
              Expect.equal small blocking "1 KiB buckets overlapped: the blocking exchange's parameters, bit for bit"
              Expect.equal standard blocking "1 MiB buckets overlapped: the blocking exchange's parameters, bit for bit"
              Expect.equal aucSmall aucBlocking "the same test AUC"
              Expect.notEqual bf16 blocking "bf16 rounds the exchanged gradients"
              Expect.isLessThan (abs (aucBf16 - aucBlocking)) 0.01 $"test AUC {aucBf16} with bf16, {aucBlocking} with fp32"
              printfn $"two MPI ranks: test AUC fp32 {aucBlocking:F6} (blocking and overlapped alike), bf16 {aucBf16:F6}" ]
