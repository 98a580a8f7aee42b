using System.Reflection;
using System.Text;
using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

/// <summary>
/// One device's context and in-order queue, and the kernel program built from the embedded <c>Kernels/*.cl</c>
/// sources once per context; kernels are created on first use and cached by name. A build error throws with the
/// compiler's log. Not thread-safe: a kernel's arguments are set and launched by one caller at a time.
/// </summary>
internal sealed unsafe class OpenClRuntime : IDisposable
{
    private readonly ClContext _context;
    private readonly ClQueue _queue;
    private readonly ClProgram _program;
    private readonly Dictionary<string, ClKernel> _kernels = new(StringComparer.Ordinal);
    private readonly IntPtr _device;

    public OpenClRuntime(OpenClDevice device) : this(device, Source()) { }

    /// <summary>A runtime whose program is <paramref name="source"/> (tests use it to see a build error's log).</summary>
    internal OpenClRuntime(OpenClDevice device, string source)
    {
        Device = device;
        _device = device.DeviceId;
        IntPtr d = _device;
        _context = Native.clCreateContext(null, 1, &d, IntPtr.Zero, IntPtr.Zero, out int status);
        OpenClException.Check(status, "clCreateContext");
        _queue = Native.clCreateCommandQueue(_context, _device, 0, out status);
        OpenClException.Check(status, "clCreateCommandQueue");
        try { _program = Build(source); }
        catch
        {
            _queue.Dispose();
            _context.Dispose();
            throw;
        }
        Placeholder = Allocate(1, DType.Float32);
    }

    /// <summary>The one-element buffer passed for an empty view.</summary>
    internal OpenClBuffer Placeholder { get; }

    public OpenClDevice Device { get; }
    internal ClQueue Queue => _queue;

    /// <summary>The kernel sources: common.cl first, then the other embedded files in name order.</summary>
    internal static string Source()
    {
        var asm = typeof(OpenClRuntime).Assembly;
        var names = asm.GetManifestResourceNames().Where(n => n.EndsWith(".cl", StringComparison.Ordinal))
            .OrderBy(n => n.EndsWith(".common.cl", StringComparison.Ordinal) ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var name in names)
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            sb.Append("// ---- ").Append(name).Append('\n').Append(reader.ReadToEnd()).Append('\n');
        }
        return sb.ToString();
    }

    private ClProgram Build(string source)
    {
        var bytes = Encoding.UTF8.GetBytes(source);
        ClProgram program;
        fixed (byte* s = bytes)
        {
            byte* strings = s;
            nuint length = (nuint)bytes.Length;
            program = Native.clCreateProgramWithSource(_context, 1, &strings, &length, out int status);
            OpenClException.Check(status, "clCreateProgramWithSource");
        }
        IntPtr d = _device;
        int built = Native.clBuildProgram(program, 1, &d, "-cl-std=CL1.2", IntPtr.Zero, IntPtr.Zero);
        if (built != Native.Success)
        {
            string log = BuildLog(program);
            program.Dispose();
            throw new OpenClException($"building the OpenCL kernels for {Device.Name} failed (status {built}):\n{log}");
        }
        return program;
    }

    private string BuildLog(ClProgram program)
    {
        nuint size;
        if (Native.clGetProgramBuildInfo(program, _device, Native.ProgramBuildLog, 0, null, &size) != Native.Success) return "(no build log)";
        var bytes = new byte[size];
        fixed (byte* b = bytes) Native.clGetProgramBuildInfo(program, _device, Native.ProgramBuildLog, size, b, null);
        return OpenClDevices.Decode(bytes);
    }

    /// <summary>Starts a launch of kernel <paramref name="name"/>; set its arguments in order, then <see cref="KernelCall.Run"/>.</summary>
    public KernelCall Kernel(string name)
    {
        if (!_kernels.TryGetValue(name, out var k))
        {
            k = Native.clCreateKernel(_program, name, out int status);
            OpenClException.Check(status, $"clCreateKernel({name})");
            _kernels[name] = k;
        }
        return new KernelCall(this, k, name, 0);
    }

    public OpenClBuffer Allocate(long length, DType type)
    {
        // OpenCL refuses zero-sized buffers; an empty tensor still gets one element.
        nuint bytes = (nuint)(Math.Max(1, length) * 4);
        var mem = Native.clCreateBuffer(_context, Native.MemReadWrite, bytes, IntPtr.Zero, out int status);
        OpenClException.Check(status, $"clCreateBuffer({bytes} bytes)");
        return new OpenClBuffer(mem, length, type);
    }

    /// <summary>Bytes copied host → device and device → host so far (for data-movement checks and benchmarks).</summary>
    public long BytesToDevice { get; private set; }
    public long BytesToHost { get; private set; }

    public void Write<T>(ReadOnlySpan<T> source, BufferView destination) where T : unmanaged
    {
        if (source.Length == 0) return;
        BytesToDevice += source.Length * 4L;
        if (source.Length > destination.Length) throw new ArgumentException($"upload: {source.Length} values into a view of {destination.Length}");
        fixed (T* p = source)
            OpenClException.Check(Native.clEnqueueWriteBuffer(_queue, Mem(destination), 1, (nuint)(destination.Offset * 4),
                (nuint)(source.Length * 4), p, 0, null, null), "clEnqueueWriteBuffer");
    }

    public void Read<T>(BufferView source, Span<T> destination) where T : unmanaged
    {
        if (destination.Length == 0) return;
        BytesToHost += destination.Length * 4L;
        if (destination.Length > source.Length) throw new ArgumentException($"download: {destination.Length} values from a view of {source.Length}");
        fixed (T* p = destination)
            OpenClException.Check(Native.clEnqueueReadBuffer(_queue, Mem(source), 1, (nuint)(source.Offset * 4),
                (nuint)(destination.Length * 4), p, 0, null, null), "clEnqueueReadBuffer");
    }

    public void Finish() => OpenClException.Check(Native.clFinish(_queue), "clFinish");

    internal static ClMem Mem(BufferView v) => ((OpenClBuffer)v.Buffer!).Mem;

    public void Dispose()
    {
        Placeholder.Dispose();
        foreach (var k in _kernels.Values) k.Dispose();
        _kernels.Clear();
        _program.Dispose();
        _queue.Dispose();
        _context.Dispose();
    }
}
