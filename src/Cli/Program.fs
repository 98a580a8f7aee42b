module CtrDsl.Cli.Program

open System
open System.IO
open Argu
open CtrDsl.Cli.Args

/// Runs one command line in-process; every error becomes one line on `stderr` and an exit code (docs/cli.md).
let run (argv: string[]) (stdout: TextWriter) (stderr: TextWriter) : int =
    let verbose = argv |> Array.contains "--verbose"
    let parser = ArgumentParser.Create<CtrArgs>(programName = "ctr")

    try
        try
            let results = parser.ParseCommandLine(argv, raiseOnUsage = true)

            match results.TryGetSubCommand() with
            | None when results.Contains Version ->
                stdout.WriteLine($"ctr %s{version}")
                ExitCode.Ok
            | Some(Train a) -> TrainCommand.execute a stdout
            | Some(Eval a) -> EvalCommand.execute a stdout
            | Some(Predict a) -> PredictCommand.execute a stdout
            | Some(Export a) -> ExportCommand.execute a stdout
            | Some(Serve a) -> ServeCommand.execute a stdout
            | Some(Describe a) -> DescribeCommand.execute a stdout
            | Some(Models a) -> ModelsCommand.execute a stdout
            | Some(Devices a) -> DevicesCommand.execute a stdout
            | Some(Data a) ->
                match a.TryGetSubCommand() with
                | Some(DataArgs.Inspect i) -> InspectCommand.execute i stdout
                | Some(DataArgs.Prepare p) -> PrepareCommand.execute p stdout
                | None -> Errors.usage "data: expected a subcommand: inspect or prepare"
            | Some(Sweep a) -> SweepCommand.execute a stdout
            | Some(Compare a) -> CompareCommand.execute a stdout
            | Some(Bench a) -> BenchCommand.execute a stdout
            | Some Version ->
                stdout.WriteLine($"ctr %s{version}")
                ExitCode.Ok
            | None ->
                stdout.Write(parser.PrintUsage())
                ExitCode.Usage
        with
        | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
            stdout.Write(e.Message)

            match argv |> Array.tryHead |> Option.bind (fun c -> examples.TryFind c) with
            | Some ex -> stdout.WriteLine("\n" + ex)
            | None -> ()

            ExitCode.Ok
        | :? ArguParseException as e ->
            // Argu's message is the error followed by the usage text: keep the error line.
            let first = (e.Message.Split('\n') |> Array.find (fun l -> l.Trim() <> "")).Replace("ERROR: ", "")
            let command = argv |> Array.tryHead |> Option.filter (fun c -> examples.ContainsKey c) |> Option.defaultValue ""
            stderr.WriteLine($"""ctr: %s{first.Trim()} (see ctr %s{command}%s{if command = "" then "" else " "}--help)""")
            ExitCode.Usage
        | CliError(code, message) ->
            stderr.WriteLine($"ctr: %s{message}")
            code
        | :? CtrDsl.Dsl.ConfigException as e ->
            stderr.WriteLine($"ctr: %s{e.Message}")
            ExitCode.Usage
        | :? CtrDsl.Data.DataFormatException as e ->
            stderr.WriteLine($"ctr: %s{e.Message}")
            ExitCode.Data
        | :? CtrDsl.Training.DivergenceException as e ->
            stderr.WriteLine($"ctr: %s{e.Message}")
            ExitCode.Divergence
        | :? CtrDsl.Distributed.MpiException as e ->
            stderr.WriteLine($"ctr: %s{e.Message}")
            ExitCode.Failure
        | :? CtrDsl.Training.CheckpointException as e ->
            stderr.WriteLine($"ctr: %s{e.Message}")
            ExitCode.Failure
        // A file system refusal (a read-only folder, a full disk, a file where a folder is expected): .NET's message
        // names the path and the reason, one line.
        | :? IOException
        | :? UnauthorizedAccessException as e ->
            let first = e.Message.Split('\n')[0]
            stderr.WriteLine($"ctr: %s{first.Trim()}")
            ExitCode.Failure
    with e ->
        stderr.WriteLine($"ctr: %s{e.GetType().Name}: %s{e.Message}")

        if verbose then
            stderr.WriteLine(e.ToString())
        else
            stderr.WriteLine("ctr: (run with --verbose for the stack trace)")

        ExitCode.Failure

[<EntryPoint>]
let main argv = run argv Console.Out Console.Error
