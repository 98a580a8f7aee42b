namespace CtrDsl.Diagnostics;

/// <summary>What a benchmark names with its figures: the same code can rank differently on two CPUs.</summary>
public static class Machine
{
    /// <summary>The CPU's model name (Linux /proc/cpuinfo), or the architecture where that is not readable.</summary>
    public static string CpuName()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                    return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
