using System.Text.Json;
using CtrDsl.Data;
using CtrDsl.Graph;

namespace CtrDsl.Onnx;

/// <summary>
/// The JSON written beside an exported model (docs/onnx.md): which field fills which column of which ONNX input, the
/// rule that encodes it, and the run's feature space verbatim (the vocabularies with their global offsets, the
/// numeric statistics), so that another runtime encodes a raw row into the inputs exactly as <c>ctr predict</c> does.
/// </summary>
internal static class EncodingJson
{
    public const string Format = "ctrdsl-onnx-encoding";

    /// <summary>2: the graph outputs are a list, <c>outputs</c>, one per task for a multi-task model (1 had one <c>output</c>).</summary>
    public const int Version = 2;

    /// <summary>
    /// The JSON of <paramref name="model"/>'s inputs (graph input nodes, in the order the ONNX file declares them),
    /// their encoding under <paramref name="features"/>, whose saved JSON <paramref name="featuresJson"/> is embedded as
    /// is, and the graph outputs: their names, the task each scores (a multi-task model's) and their meaning.
    /// </summary>
    public static byte[] Write(string model, FeatureSpace features, IReadOnlyList<Node> inputs, IReadOnlyList<OnnxOutput> outputs, byte[] featuresJson)
    {
        var schema = features.Schema;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", Version);
            w.WriteString("model", model);
            w.WriteNumber("ir_version", OnnxExport.IrVersion);
            w.WriteNumber("opset", OnnxExport.Opset);
            w.WriteStartArray("inputs");
            foreach (var input in inputs)
            {
                w.WriteStartObject();
                w.WriteString("name", input.Name);
                w.WriteString("type", input.InputKind == InputKind.Numeric ? "float32" : "int32");
                w.WriteStartArray("shape");
                w.WriteStringValue("batch");
                w.WriteNumberValue(input.Shape[1]);
                w.WriteEndArray();
                switch (input.InputKind)
                {
                    case InputKind.CategoricalIds:
                        Columns(w, schema.IdFields, f => IdColumn(w, schema, f));
                        break;
                    case InputKind.Numeric:
                        Columns(w, schema.DenseFields, f => NumericColumn(w, features, f));
                        break;
                    default:
                        var s = schema.SequenceFields.Single(f => f.Name == input.Name);
                        w.WriteString("field", s.Name);
                        w.WriteString("column", s.Column);
                        w.WriteString("vocabulary", s.Vocabulary);
                        w.WriteString("separator", s.Separator.ToString());
                        w.WriteNumber("max_length", s.MaxLength);
                        w.WriteNumber("pad", -1);
                        if (s.History is { } h)
                        {
                            // Built from a log, not read from a column: the model expects the same list that the data layer builds.
                            w.WriteStartObject("history");
                            w.WriteString("user", h.User);
                            w.WriteString("item", h.Item);
                            w.WriteString("time", h.Time);
                            w.WriteString("order", "most_recent_first");
                            w.WriteEndObject();
                        }
                        break;
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("outputs");
            foreach (var o in outputs)
            {
                w.WriteStartObject();
                w.WriteString("name", o.Name);
                if (o.Task is { } task) w.WriteString("task", task);
                w.WriteString("type", "float32");
                w.WriteStartArray("shape");
                w.WriteStringValue("batch");
                w.WriteNumberValue(1);
                w.WriteEndArray();
                w.WriteString("meaning", o.IsLogit ? "probability: the sigmoid of the model's logit" : "the model's output (regression)");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("features");
            using (var doc = JsonDocument.Parse(featuresJson)) doc.RootElement.WriteTo(w);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private static void Columns(Utf8JsonWriter w, IEnumerable<FieldSpec> fields, Action<FieldSpec> column)
    {
        w.WriteStartArray("columns");
        foreach (var f in fields)
        {
            w.WriteStartObject();
            w.WriteString("field", f.Name);
            w.WriteString("column", f.Column);
            column(f);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>An id column: global id = the vocabulary's offset + the local id its rule gives.</summary>
    private static void IdColumn(Utf8JsonWriter w, Schema schema, FieldSpec f)
    {
        w.WriteString("rule", f.Kind == FieldKind.Categorical
            ? f.HashBuckets > 0 ? "hashed" : "token"
            : f.Buckets switch { BucketRule.Log3 => "log3_token", _ => "bucket" });
        w.WriteString("vocabulary", f.Vocabulary);
        w.WriteString("missing", schema.MissingOf(f) == MissingPolicy.OwnId ? "own_id" : "as_value");
    }

    /// <summary>A dense column: the transform, the train statistics it standardises with and the missing value's default.</summary>
    private static void NumericColumn(Utf8JsonWriter w, FeatureSpace features, FieldSpec f)
    {
        w.WriteString("transform", f.Transform switch
        {
            NumericTransform.Log1p => "log1p",
            NumericTransform.Standardize => "standardize",
            NumericTransform.Log1pStandardize => "log1p_standardize",
            _ => "none",
        });
        var stats = features.Numeric.FirstOrDefault(n => n.Field == f.Name);
        w.WriteNumber("mean", stats?.Mean ?? 0);
        w.WriteNumber("std", stats?.Std ?? 1);
        w.WriteNumber("default", f.Default);
    }
}
