using CtrDsl.Data;
using CtrDsl.Graph;
using CtrDsl.Tensors;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace CtrDsl.Onnx;

/// <summary>
/// One output of an exported model, [batch; 1] float32: its name, the task it scores (null for a model with one
/// label) and whether the model's value is a logit, written as its sigmoid (a probability).
/// </summary>
public sealed record OnnxOutput(string Name, string? Task, bool IsLogit);

/// <summary>A model that ONNX cannot express; the message is one line naming the op, where it is and why.</summary>
public sealed class OnnxExportException(string message) : Exception(message);

/// <summary>
/// Writes a model's evaluation graph as ONNX (IR 8, opset 17, so that ONNX 1.12's checker accepts it too). The graph
/// is walked node by node from the output back to its inputs, and every op goes through one table
/// (<see cref="OpTable"/>), so every model whose ops are in the table exports. Inputs are what a
/// <see cref="Batch"/> holds: <c>ids</c> int32 [batch; id fields] (global ids), <c>dense</c> float32
/// [batch; numeric fields] (transformed values) and one int32 [batch; maxLength] per multi-valued field (−1 pads),
/// each declared only when the model reads it. The output <c>score</c> [batch; 1] is what <c>ctr predict</c> writes:
/// the sigmoid of the logit, or the output itself for regression. A multi-task model has one output [batch; 1] per
/// task instead, named after the task, in the schema's order (<see cref="OutputsOf(IReadOnlyList{LabelTask})"/>).
/// </summary>
public static class OnnxExport
{
    public const long IrVersion = 8;
    public const long Opset = 17;
    public const string OutputName = "score";

    /// <summary>The JSON written beside <paramref name="onnxPath"/>: <c>model.onnx</c> → <c>model.encoding.json</c>.</summary>
    public static string EncodingPath(string onnxPath) => Path.ChangeExtension(onnxPath, ".encoding.json");

    /// <summary>The core ops the table writes (every other op is refused by <see cref="Unsupported"/>).</summary>
    public static IReadOnlyCollection<Type> Ops => OpTable.Ops;

    /// <summary>One line per op that ONNX cannot express, naming it, its block and why; empty when the model exports.</summary>
    public static IReadOnlyList<string> Unsupported(ExprGraph graph, Node output) =>
        Reachable(graph, output)
            .Where(n => n.Kind == NodeKind.Op && OpTable.Unsupported(n.Op!) is not null)
            .Select(n => $"{n.Op!.Name} ({n.Scope ?? $"node {n.Id}"}) cannot be expressed in ONNX opset {Opset}: {OpTable.Unsupported(n.Op!)}")
            .Distinct()
            .ToList();

    /// <summary>The graph outputs of a model with one label: <c>score</c>, a probability when the output is a logit.</summary>
    public static IReadOnlyList<OnnxOutput> OutputsOf(bool outputIsLogit) => [new(OutputName, null, outputIsLogit)];

    /// <summary>
    /// The graph outputs of a multi-task model, whose output is [batch; tasks]: one per task, named after it, a
    /// probability for a BCE task (the sigmoid of its logit) and the prediction for an MSE task, as <c>ctr predict</c>
    /// writes its columns.
    /// </summary>
    public static IReadOnlyList<OnnxOutput> OutputsOf(IReadOnlyList<LabelTask> tasks) =>
        tasks.Select(t => new OnnxOutput(t.Name, t.Name, t.Loss == TaskLoss.Bce)).ToList();

    /// <summary>The ONNX model of <paramref name="output"/>; throws <see cref="OnnxExportException"/> when an op cannot be expressed.</summary>
    public static ModelProto ToModel(ExprGraph graph, Node output, bool outputIsLogit, string modelName) =>
        ToModel(graph, output, OutputsOf(outputIsLogit), modelName);

    /// <summary>
    /// The ONNX model of <paramref name="output"/> with the given graph outputs: one reads the whole output (a model's
    /// is [batch; 1]), several read one column each of an output [batch; outputs]. Throws <see cref="OnnxExportException"/> when an op cannot be expressed or an
    /// output's name is an input's.
    /// </summary>
    public static ModelProto ToModel(ExprGraph graph, Node output, IReadOnlyList<OnnxOutput> outputs, string modelName)
    {
        if (outputs.Count > 1 && !output.Shape.Equals(Shape.Batched(outputs.Count)))
            throw new ArgumentException($"{modelName}: {outputs.Count} graph outputs need an output [batch; {outputs.Count}], got {output.Shape}", nameof(outputs));
        var unsupported = Unsupported(graph, output);
        if (unsupported.Count > 0) throw new OnnxExportException($"{modelName}: {unsupported[0]}");
        var g = new OnnxGraph();
        g.Proto.Name = modelName;
        var reachable = Reachable(graph, output);
        // The outputs' names are taken first, so that no value made on the way gets one of them.
        foreach (var o in outputs)
            if (reachable.Any(n => n.Kind == NodeKind.Input && n.Name == o.Name) || !g.Reserve(o.Name))
                throw new OnnxExportException($"{modelName}: the output name {o.Name} is taken by an input or another output; rename the task in the schema");
        var values = new Dictionary<Node, string>();
        foreach (var n in reachable)
        {
            values[n] = n.Kind switch
            {
                NodeKind.Input => DeclareInput(g, n),
                NodeKind.Parameter => g.Floats(ParameterName(n), n.Parameter!.Value, n.Parameter.Shape.Select(d => (long)d).ToArray()),
                _ => OpTable.Write(g, n, n.Inputs.Select(i => values[i]).ToArray()),
            };
        }
        for (int t = 0; t < outputs.Count; t++)
        {
            var o = outputs[t];
            string column = outputs.Count == 1 ? values[output]
                : g.Add("Slice", [values[output], g.Longs("starts", t), g.Longs("ends", t + 1), g.Longs("axes", 1)]);
            g.AddNamed(o.IsLogit ? "Sigmoid" : "Identity", o.Name, [column]);
            g.Output(o.Name, DataType.Float, outputs.Count == 1 ? [.. Dims(output)] : ["batch", 1]);
        }
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "CtrDsl",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            Graph = g.Proto,
            DocString = $"{modelName} exported by CtrDsl; inputs and their encoding: see the .encoding.json beside this file",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>
    /// Writes the model to <paramref name="onnxPath"/> and its encoding JSON to <see cref="EncodingPath"/>, each
    /// atomically (a temporary file renamed over the target). A model that cannot be expressed throws
    /// <see cref="OnnxExportException"/> before anything is written.
    /// </summary>
    public static void Write(ExprGraph graph, Node output, FeatureSpace features, bool outputIsLogit, string modelName, string onnxPath) =>
        Write(graph, output, features, OutputsOf(outputIsLogit), modelName, onnxPath);

    /// <summary><see cref="Write(ExprGraph, Node, FeatureSpace, bool, string, string)"/> with the given graph outputs (a multi-task model's: <see cref="OutputsOf(IReadOnlyList{LabelTask})"/>).</summary>
    public static void Write(ExprGraph graph, Node output, FeatureSpace features, IReadOnlyList<OnnxOutput> outputs, string modelName, string onnxPath)
    {
        var model = ToModel(graph, output, outputs, modelName);
        var inputs = graph.Nodes.Where(n => n.Kind == NodeKind.Input && model.Graph.Input.Any(i => i.Name == n.Name)).ToList();
        var target = Path.GetFullPath(onnxPath);
        var encodingPath = EncodingPath(target);
        var onnxTemp = target + ".tmp";
        var encodingTemp = encodingPath + ".tmp";
        try
        {
            features.Save(encodingTemp); // the feature space's own JSON, embedded below
            var encoding = EncodingJson.Write(modelName, features, inputs, outputs, File.ReadAllBytes(encodingTemp));
            WriteDurably(encodingTemp, s => s.Write(encoding));
            WriteDurably(onnxTemp, model.WriteTo);
            File.Move(onnxTemp, target, overwrite: true);
            File.Move(encodingTemp, encodingPath, overwrite: true);
        }
        finally
        {
            File.Delete(onnxTemp);
            File.Delete(encodingTemp);
        }
    }

    /// <summary>Writes a file and flushes it to disk, so that the rename that follows never exposes a partial file.</summary>
    private static void WriteDurably(string path, Action<Stream> write)
    {
        using var s = new FileStream(path, FileMode.Create, FileAccess.Write);
        write(s);
        s.Flush(flushToDisk: true);
    }

    /// <summary>The nodes <paramref name="output"/> depends on, in the graph's (topological) order; the label and loss fall away.</summary>
    private static List<Node> Reachable(ExprGraph graph, Node output)
    {
        var keep = new bool[graph.Nodes.Count];
        var stack = new Stack<Node>([output]);
        while (stack.TryPop(out var n))
        {
            if (keep[n.Id]) continue;
            keep[n.Id] = true;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        return graph.Nodes.Where(n => keep[n.Id]).ToList();
    }

    private static string DeclareInput(OnnxGraph g, Node n)
    {
        var name = g.Fresh(n.Name);
        g.Input(name, n.Type == Backends.DType.Int32 ? DataType.Int32 : DataType.Float, [.. Dims(n)]);
        return name;
    }

    private static IEnumerable<object> Dims(Node n) =>
        n.Shape.ToArray().Select((d, i) => n.Shape.IsBatched && i == 0 ? "batch" : (object)d);

    /// <summary>A parameter's initializer name: its block and name, e.g. "DeepFM/mlp/w0".</summary>
    private static string ParameterName(Node n) => n.Scope is { } s && !n.Name.StartsWith(s, StringComparison.Ordinal) ? $"{s}/{n.Name}" : n.Name;
}
