using System.Runtime.InteropServices;

namespace CtrDsl.Bench;

/// <summary>
/// OpenBLAS's <c>cblas_sgemm</c>, loaded at run time as a benchmark oracle only: nothing in CtrDsl depends on it.
/// <see cref="TryLoad"/> returns null when no libopenblas can be found.
/// </summary>
/// <remarks>
/// Debian's DYNAMIC_ARCH build (0.3.21) does not recognise every CPU a hypervisor reports: on our AVX-512 Xeon VM it
/// picks its generic "Prescott" (SSE3) kernels and runs about 4× below its real speed. So <see cref="TryLoad"/> asks
/// for the SkylakeX (AVX-512) kernels when the CPU has AVX-512F, and <see cref="CoreName"/> says which kernels OpenBLAS
/// actually uses. It replaces an OPENBLAS_CORETYPE the environment already holds: the EPYC VM's environment names
/// Haswell (AVX2), which halved the oracle's rate (186 against 302 GFLOP/s at 4096×400×400 on 2 threads). Set
/// CTR_OPENBLAS_CORETYPE to ask for another family.
/// </remarks>
public sealed unsafe class OpenBlas
{
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    static readonly string[] candidates =
    [
        "libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "libopenblas",
    ];

    readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>
        sgemm;
    readonly delegate* unmanaged<int, void> setThreads;

    OpenBlas(string path, string coreName, nint sgemm, nint setThreads)
    {
        Path = path;
        CoreName = coreName;
        this.sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*,
            int, void>)sgemm;
        this.setThreads = (delegate* unmanaged<int, void>)setThreads;
    }

    /// <summary>The library that was loaded.</summary>
    public string Path { get; }

    /// <summary>The kernel family OpenBLAS chose (openblas_get_corename), e.g. SkylakeX or Prescott.</summary>
    public string CoreName { get; }

    /// <summary>Loads the first libopenblas that exports <c>cblas_sgemm</c> and <c>openblas_set_num_threads</c>.</summary>
    public static OpenBlas? TryLoad()
    {
        // OpenBLAS reads its environment with getenv when it loads; Environment.SetEnvironmentVariable would only
        // change .NET's own copy on Unix, so this goes through libc.
        string? family = Environment.GetEnvironmentVariable("CTR_OPENBLAS_CORETYPE") ??
                       (System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "SkylakeX" : null);
        if (OperatingSystem.IsLinux() && family is not null) SetEnv("OPENBLAS_CORETYPE", family);
        foreach (var name in candidates)
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm) &&
                NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var setThreads))
            {
                string core = NativeLibrary.TryGetExport(handle, "openblas_get_corename", out var getCore)
                    ? Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)getCore)()) ?? "?"
                    : "?";
                return new OpenBlas(name, core, sgemm, setThreads);
            }
            NativeLibrary.Free(handle);
        }
        return null;
    }

    static void SetEnv(string name, string value)
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc)) return;
        if (NativeLibrary.TryGetExport(libc, "setenv", out var setenv))
        {
            nint n = Marshal.StringToHGlobalAnsi(name), v = Marshal.StringToHGlobalAnsi(value);
            ((delegate* unmanaged<nint, nint, int, int>)setenv)(n, v, 1);
            Marshal.FreeHGlobal(n);
            Marshal.FreeHGlobal(v);
        }
    }

    public void SetThreads(int threads) => setThreads(threads);

    /// <summary>Row-major <c>cblas_sgemm</c> with the arguments of <see cref="Cpu.Gemm.Sgemm"/> (no epilogue).</summary>
    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, pa, lda, pb, ldb, beta,
                pc, ldc);
    }
}
