using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed partial class CpuBackend
{
    // A bound buffer shares its host array, so both directions are no-ops unless handed a different array.
    public void SyncFromHost(float[] host, DeviceBuffer bound)
    {
        var data = ((CpuFloatBuffer)bound).Data;
        if (!ReferenceEquals(data, host)) host.CopyTo(data, 0);
    }

    public void SyncToHost(DeviceBuffer bound, float[] host)
    {
        var data = ((CpuFloatBuffer)bound).Data;
        if (!ReferenceEquals(data, host)) data.CopyTo(host, 0);
    }
}
