namespace CtrDsl.Testing

open System
open CtrDsl.Backends

/// <summary>
/// A backend a property runs on: its name and how to make one, or why it cannot be made here (no runtime). The CPU
/// backend is always there; OpenCL needs a runtime (PoCL on a CPU for tests); a Torch backend plugs in as one more
/// value of this type.
/// </summary>
type Backend = { Name: string; Create: unit -> Result<IBackend, string> }

module Backend =
    /// The CPU backend; a new one per plan.
    let cpu = { Name = "CPU"; Create = fun () -> Ok(new CtrDsl.Cpu.CpuBackend() :> IBackend) }

    // One OpenCL backend for every property: building the kernels is the slow part.
    let private openClShared =
        lazy
            (if CtrDsl.OpenCl.OpenClDevices.List().Count = 0 then
                 Error CtrDsl.OpenCl.OpenClDevices.InstallHint
             else
                 Ok(CtrDsl.OpenCl.OpenClBackend.Create 0 :> IBackend))

    /// The first OpenCL device (PoCL in CI), shared by every property that uses it.
    let openCl = { Name = "OpenCL"; Create = fun () -> openClShared.Force() }

    /// True when CTRDSL_REQUIRE_OPENCL=1 (CI with PoCL installed): a backend that cannot be made fails its
    /// properties instead of leaving them pending.
    let required () = Environment.GetEnvironmentVariable "CTRDSL_REQUIRE_OPENCL" = "1"

    /// The backend, or an exception that names it and says why it is missing.
    let create (b: Backend) =
        match b.Create() with
        | Ok backend -> backend
        | Error why -> failwith $"backend {b.Name}: {why}"
