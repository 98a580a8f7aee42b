namespace CtrDsl.Testing

open System.Threading
open Expecto
open Expecto.Impl

/// What became of one test run through <c>Runner.runOne</c>.
type Outcome =
    | Passed
    /// Pending (ptestCase) or skipped at run time (skiptest), with the reason.
    | Skipped of string

/// <summary>
/// Running a suite of Expecto tests: as a program (<c>dotnet run</c>, one test at a time) with one summary line, or one test at a time by
/// name, for a bridge that shows each test to another runner (the xUnit bridge in tests/Shared makes them visible to
/// <c>dotnet test</c>, trx files and IDEs).
/// </summary>
module Runner =
    let private flat (tests: Test) = Test.toTestCodeList tests |> Seq.toList

    let private nameOf (t: FlatTest) = String.concat "/" t.name

    /// The full name (`suite/list/test`) of every test, pending ones included, in order.
    let names (tests: Test) = flat tests |> List.map nameOf

    /// Runs the test of that full name; raises the test's own exception when it fails.
    let runOne (tests: Test) (name: string) =
        match flat tests |> List.filter (fun t -> nameOf t = name) with
        | [ t ] when t.state = Pending -> Skipped "pending"
        | [ t ] ->
            try
                match t.test with
                | Sync f -> f ()
                | SyncWithCancel f -> f CancellationToken.None
                | Async a -> Async.RunSynchronously a
                | AsyncFsCheck(config, _, f) -> f (defaultArg config FsCheckConfig.defaultConfig) |> Async.RunSynchronously

                Passed
            with :? IgnoreException as e ->
                Skipped e.Message
        | found -> failwith $"Runner.runOne: {found.Length} tests named {name}"

    /// <summary>
    /// Runs the suite as an Expecto program with Expecto's own command line (filters, --sequenced, …), then prints an
    /// empty line (Expecto leaves an ANSI reset at the start of the next line) and one line
    /// <c>suite: N passed, M failed, K skipped</c>. Exits non-zero when a test failed or when no test ran.
    /// </summary>
    let main (suite: string) (argv: string[]) (tests: Test) =
        let mutable ran = 0

        let printer =
            { TestPrinters.defaultPrinter with
                summary =
                    fun config summary ->
                        async {
                            do! TestPrinters.defaultPrinter.summary config summary
                            let failed = summary.failed.Length + summary.errored.Length
                            ran <- summary.passed.Length + failed
                            printfn ""
                            printfn $"{suite}: {summary.passed.Length} passed, {failed} failed, {summary.ignored.Length} skipped"
                        } }

        // Sequenced: properties set process-wide switches (the worker pool's thread count, plan options).
        let code = runTestsWithCLIArgs [ CLIArguments.Printer printer; CLIArguments.Sequenced ] argv tests

        if code = 0 && ran = 0 then
            eprintfn $"{suite}: no test ran"
            1
        else
            code
