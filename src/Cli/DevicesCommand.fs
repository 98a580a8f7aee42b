/// `ctr devices`: the CPU and every OpenCL device, with the index `--device opencl:N` takes.
module CtrDsl.Cli.DevicesCommand

open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.OpenCl
open CtrDsl.Dsl

let execute (args: ParseResults<DevicesArgs>) (out: TextWriter) : int =
    // No runtime, or a runtime with no platform, lists nothing; the hint says what to install.
    let devices, problem =
        try
            List.ofSeq (OpenClDevices.List()), None
        with :? OpenClException as e ->
            [], Some e.Message

    let cores = System.Environment.ProcessorCount

    if args.Contains DevicesArgs.Json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "devices"
                      "cpu", JObj [ "device", JStr "cpu"; "threads", JNum(float cores) ]
                      "opencl",
                      JArr
                          [ for d in devices ->
                                JObj
                                    [ "device", JStr $"opencl:%d{d.Index}"
                                      "platform", JStr d.Platform
                                      "name", JStr d.Name
                                      "type", JStr d.Type
                                      "compute_units", JNum(float d.ComputeUnits)
                                      "global_memory_bytes", JNum(float d.GlobalMemoryBytes)
                                      "version", JStr d.Version ] ] ]
            )
        )
    else
        out.WriteLine($"cpu        %d{cores} threads (the default)")

        for d in devices do
            out.WriteLine(
                $"opencl:%d{d.Index}   %s{d.Name} (%s{d.Type}, %d{d.ComputeUnits} compute units, %d{d.GlobalMemoryBytes / 1048576L} MiB; %s{d.Platform})"
            )

        if devices.IsEmpty then
            out.WriteLine(problem |> Option.defaultValue $"no OpenCL device found. %s{OpenClDevices.InstallHint}")

    ExitCode.Ok
