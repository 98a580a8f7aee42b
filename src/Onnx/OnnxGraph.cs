using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace CtrDsl.Onnx;

/// <summary>
/// An ONNX graph being written: nodes, initializers (parameters and constants) and fresh value names. The op table
/// (<see cref="OpTable"/>) adds a node through <c>Add</c> and gets its output's name back, so an op that
/// needs several ONNX nodes reads as a short chain of calls.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly HashSet<string> _names = [];
    private int _next;

    public GraphProto Proto { get; } = new() { Name = "ctrdsl" };

    /// <summary>A name not used yet, <paramref name="hint"/> itself when it is free.</summary>
    public string Fresh(string hint)
    {
        string name = hint;
        while (!_names.Add(name)) name = $"{hint}_{_next++}";
        return name;
    }

    /// <summary>Takes <paramref name="name"/> for a graph output, so that <see cref="Fresh"/> never gives it; false when taken.</summary>
    public bool Reserve(string name) => _names.Add(name);

    /// <summary>Adds one node with one output and returns the output's name.</summary>
    public string Add(string opType, string[] inputs, params AttributeProto[] attributes) =>
        AddNamed(opType, Fresh($"{opType.ToLowerInvariant()}_{_next++}"), inputs, attributes);

    public string Add(string opType, string input, params AttributeProto[] attributes) => Add(opType, [input], attributes);

    /// <summary>Adds one node whose output has a given name (a graph output's).</summary>
    public string AddNamed(string opType, string output, string[] inputs, params AttributeProto[] attributes)
    {
        _names.Add(output);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Proto.Node.Add(node);
        return output;
    }

    /// <summary>A float32 initializer of shape <paramref name="dims"/>, stored little-endian in raw_data.</summary>
    public string Floats(string hint, ReadOnlySpan<float> values, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)DataType.Float, RawData = Raw(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        Proto.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>An int64 initializer: axes, shapes, repeats and gather indices.</summary>
    public string Longs(string hint, ReadOnlySpan<long> values, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)DataType.Int64, RawData = Raw(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        Proto.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A one-dimensional int64 constant.</summary>
    public string Longs(string hint, params long[] values) => Longs(hint, values.AsSpan(), values.Length);

    /// <summary>An int32 scalar constant, to compare with ids.</summary>
    public string Int32Scalar(int value)
    {
        var t = new TensorProto { Name = Fresh("int"), DataType = (int)DataType.Int32 };
        t.Int32Data.Add(value);
        Proto.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A float32 scalar constant.</summary>
    public string Scalar(float value) => Floats("scalar", [value]);

    public void Input(string name, DataType type, params object[] dims) => Proto.Input.Add(Value(name, type, dims));
    public void Output(string name, DataType type, params object[] dims) => Proto.Output.Add(Value(name, type, dims));

    // The raw bytes are little-endian, as ONNX requires; every platform .NET runs this on is little-endian.
    private static ByteString Raw(ReadOnlySpan<byte> bytes) =>
        BitConverter.IsLittleEndian ? ByteString.CopyFrom(bytes) : throw new PlatformNotSupportedException("ONNX export needs a little-endian machine");

    /// <summary>A tensor value description; a dimension is a size (int) or a symbolic name (string, e.g. "batch").</summary>
    private static ValueInfoProto Value(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    // ---- attributes ------------------------------------------------------------------------------------------------

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
