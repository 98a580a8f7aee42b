using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

/// <summary>
/// Arguments of one kernel launch, set in order. A buffer view is two arguments (the buffer and its element
/// offset), matching the <c>FB(name)</c> / <c>IB(name)</c> parameter macros of common.cl; an empty view passes
/// the backend's one-element placeholder, which the kernel must not touch (it gets a flag saying so).
/// </summary>
internal readonly unsafe struct KernelCall(OpenClRuntime runtime, ClKernel kernel, string name, uint index)
{
    public KernelCall Buf(BufferView v)
    {
        var mem = v.Buffer is null ? runtime.Placeholder.Mem : ((OpenClBuffer)v.Buffer).Mem;
        IntPtr h = mem.DangerousGetHandle();
        Set(index, (nuint)sizeof(IntPtr), &h);
        int offset = checked((int)v.Offset);
        Set(index + 1, sizeof(int), &offset);
        return new KernelCall(runtime, kernel, name, index + 2);
    }

    public KernelCall Int(int value) { Set(index, sizeof(int), &value); return Next; }
    public KernelCall Float(float value) { Set(index, sizeof(float), &value); return Next; }
    public KernelCall ULong(ulong value) { Set(index, sizeof(ulong), &value); return Next; }

    /// <summary>An int8 vector argument (8 ints, 32 bytes).</summary>
    public KernelCall Int8(ReadOnlySpan<int> values)
    {
        int* v = stackalloc int[8];
        for (int i = 0; i < 8; i++) v[i] = values[i];
        Set(index, 32, v);
        return Next;
    }

    private KernelCall Next => new(runtime, kernel, name, index + 1);

    private void Set(uint i, nuint size, void* value) =>
        OpenClException.Check(Native.clSetKernelArg(kernel, i, size, value), $"clSetKernelArg({name}, {i})");

    /// <summary>Enqueues <paramref name="global"/> work-items (one dimension, the runtime picks the group size); 0 launches nothing.</summary>
    public void Run(long global)
    {
        if (global <= 0) return;
        nuint g = (nuint)global;
        OpenClException.Check(Native.clEnqueueNDRangeKernel(runtime.Queue, kernel, 1, null, &g, null, 0, null, null), $"clEnqueueNDRangeKernel({name})");
    }
}
