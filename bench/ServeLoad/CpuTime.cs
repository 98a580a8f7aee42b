using System.Globalization;

namespace CtrDsl.ServeLoad;

/// <summary>A process's CPU time (user + system, all threads) from /proc/PID/stat, to split a request's CPU cost
/// between the client and the server when the server runs as a process of its own.</summary>
internal static class CpuTime
{
    /// <summary>Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux).</summary>
    private const double TicksPerSecond = 100;

    public static double Seconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // The fields after the command name (which may hold spaces) in parentheses: state is the first, utime the 12th.
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }
}
