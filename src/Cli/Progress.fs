/// Training progress: a Spectre.Console live bar on a terminal, plain periodic lines when output is redirected,
/// nothing under --json.
module CtrDsl.Cli.Progress

open System
open System.Diagnostics
open System.IO
open CtrDsl.Dsl
open Spectre.Console


let private plain (out: TextWriter) (batchSize: int) =
    let clock = Stopwatch.StartNew()
    let mutable last = -10.0

    { new IFitReporter with
        member _.Step(epoch, batch, batches, rate, loss) =
            let now = clock.Elapsed.TotalSeconds

            if now - last >= 5.0 || batch = batches then
                last <- now
                let eta = if rate > 0.0 then float ((batches - batch) * batchSize) / rate else 0.0
                out.WriteLine($"epoch %d{epoch} %d{batch}/%d{batches} batches  loss %.5f{loss}  %.0f{rate} samples/s  eta %.0f{eta}s")

        member _.Line s = out.WriteLine s }

/// Runs `work` with a sink. `interactive` is true for a terminal on the real console.
let run (out: TextWriter) (json: bool) (batchSize: int) (work: IFitReporter -> 'T) : 'T =
    if json then
        work FitReporter.silent
    elif Object.ReferenceEquals(out, Console.Out) && not Console.IsOutputRedirected then
        AnsiConsole
            .Progress()
            .AutoClear(false)
            .Columns(TaskDescriptionColumn(), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn(), SpinnerColumn())
            .Start(fun ctx ->
                let mutable task: ProgressTask | null = null
                let mutable taskEpoch = 0

                let sink =
                    { new IFitReporter with
                        member _.Step(epoch, batch, batches, rate, loss) =
                            if isNull task || taskEpoch <> epoch then
                                task <- ctx.AddTask($"epoch {epoch}", true, float batches)
                                taskEpoch <- epoch

                            match task with
                            | null -> ()
                            | t ->
                                t.Value <- float batch
                                t.Description <- $"epoch %d{epoch}  loss %.4f{loss}  %.0f{rate} samples/s"

                        member _.Line s = AnsiConsole.MarkupLine(Markup.Escape s) }

                work sink)
    else
        work (plain out batchSize)
