using System.Runtime.CompilerServices;
using CtrDsl.Diagnostics;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Diagnostics;

[Collection(Serial.Name)]
public class ProcessMemoryTests
{
    private const int Mb = 1 << 20;

    // 96 MB of garbage with every page touched, so it is resident until a collection hands it back.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LeaveGarbage()
    {
        var a = new byte[96 * Mb];
        Array.Fill(a, (byte)1);
        GC.KeepAlive(a);
    }

    [Fact]
    public void ReturnGarbage_TakesADroppedLargeArrayOutOfTheResidentSet()
    {
        if (!OperatingSystem.IsLinux()) return;   // the resident set is read from /proc
        LeaveGarbage();
        long before = ProcessMemory.CurrentBytes();
        ProcessMemory.ReturnGarbage();
        long after = ProcessMemory.CurrentBytes();
        Assert.True(before - after >= 64L * Mb, $"RSS {before / Mb} MB before, {after / Mb} MB after: the 96 MB of garbage should have left");
    }
}
