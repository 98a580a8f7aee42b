/// `ctr devices`: the CPU, every OpenCL device with the index `--device opencl:N` takes, and the Torch backend's
/// devices (`torch`, `torch:cuda:N`) or why there are none.
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

    // The Torch backend, when this build has it: its devices, and what is missing for CUDA.
    let torchDevices, torchNote =
        match CtrDsl.Backends.BackendProviders.TryTorch() with
        | null, why -> [], Some why
        | p, _ ->
            try
                List.ofSeq (p.Devices()), Option.ofObj (p.Note())
            with :? CtrDsl.Backends.BackendUnavailableException as e ->
                [], Some e.Message

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
                                      "version", JStr d.Version ] ]
                      "torch",
                      JObj
                          [ "devices", JArr [ for d in torchDevices -> JStr d ]
                            "note",
                            (match torchNote with
                             | Some n -> JStr n
                             | None -> JNull) ] ]
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

        for d in torchDevices do
            out.WriteLine(if d = "torch" then "torch      libtorch on the CPU (TorchSharp)" else $"%-10s{d} libtorch on CUDA")

        torchNote |> Option.iter (fun n -> out.WriteLine $"torch: %s{n}")

    ExitCode.Ok
