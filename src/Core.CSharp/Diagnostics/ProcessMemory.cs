using System.Diagnostics;

namespace CtrDsl.Diagnostics;

/// <summary>
/// The process's resident memory as Linux reports it: <see cref="PeakBytes"/> is VmHWM, the high-water mark, which
/// <see cref="ResetPeak"/> sets back to the current RSS (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0). Measuring a
/// phase's peak as "reset, run, read" is what the PyTorch reference does (bench.py), so the figures compare directly.
/// Elsewhere, or when /proc cannot be read, the peak falls back to <see cref="Process.PeakWorkingSet64"/> and the reset
/// reports false.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Peak resident bytes since the process started or since the last successful <see cref="ResetPeak"/>.</summary>
    public static long PeakBytes() => StatusField("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Resident bytes now.</summary>
    public static long CurrentBytes() => StatusField("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    /// <summary>Sets the peak back to the current RSS; false where the kernel does not offer it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// One blocking, compacting collection of every generation, the large-object heap included, that decommits the
    /// freed memory (<see cref="GCCollectionMode.Aggressive"/>): for the boundary between a phase that leaves
    /// garbage (setup) and a long one that allocates nothing, so that garbage does not stay resident through it.
    /// </summary>
    public static void ReturnGarbage() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private static long? StatusField(string name)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
                var parts = line[name.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024; // kB
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }
}
