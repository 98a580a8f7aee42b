using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace CtrDsl.Data;

/// <summary>Train statistics of a numeric field after its log transform (missing values excluded).</summary>
public sealed record NumericStats(string Field, double Mean, double Std, long Count);

/// <summary>
/// Everything learned from the train split that a model must be stored with: the vocabularies laid out in one global
/// id table (offsets in schema order of first use), and the numeric statistics. Saved as JSON (see <see cref="Save"/>).
/// </summary>
public sealed class FeatureSpace
{
    private readonly Dictionary<string, Vocabulary> _byName;
    // The saved JSON of a loaded feature space: its deferred vocabularies read their tokens from it, and Save writes it.
    private readonly byte[]? _json;
    // Where in _json each token vocabulary's list starts (its '['; −1 for the other kinds), so that a deferred
    // vocabulary reads only its own list, not the whole file.
    private readonly long[]? _tokenStarts;

    internal FeatureSpace(Schema schema, IReadOnlyList<Vocabulary> vocabularies, IReadOnlyList<NumericStats> numeric)
        : this(schema, vocabularies, numeric, null) { }

    // savedTokens, for a loaded feature space: writes the token list of vocabulary k as read from the file; the JSON
    // this gives is kept (_json).
    private FeatureSpace(Schema schema, IReadOnlyList<Vocabulary> vocabularies, IReadOnlyList<NumericStats> numeric,
        Action<Utf8JsonWriter, int>? savedTokens)
    {
        Schema = schema;
        Vocabularies = vocabularies;
        Numeric = numeric;
        int offset = 0;
        foreach (var v in vocabularies) { v.Offset = offset; offset += v.Size; }
        FeatureCount = offset;
        _byName = vocabularies.ToDictionary(v => v.Name);
        IdFieldOffsets = schema.IdFields.Select(f => _byName[f.Vocabulary].Offset).ToArray();
        if (savedTokens != null) _json = Write(savedTokens, _tokenStarts = new long[vocabularies.Count]);
        Hash = TokenHash.Fnv1a64(ToJson());
    }

    public Schema Schema { get; }
    public IReadOnlyList<Vocabulary> Vocabularies { get; }
    public IReadOnlyList<NumericStats> Numeric { get; }
    /// <summary>Rows of the global embedding table: the sum of the vocabulary sizes.</summary>
    public int FeatureCount { get; }
    /// <summary>Global offset of each column of <c>Batch.Ids</c> (categorical and bucketized fields in schema order).</summary>
    public IReadOnlyList<int> IdFieldOffsets { get; }
    /// <summary>FNV-1a-64 of the saved JSON; a cache built with other features is stale.</summary>
    public ulong Hash { get; }

    /// <summary>The vocabulary of a field (shared ones are the same object).</summary>
    public Vocabulary VocabularyOf(string field)
    {
        var f = Schema.Fields.FirstOrDefault(x => x.Name == field) ?? throw new ArgumentException($"no field {field} in the schema");
        return _byName.TryGetValue(f.Vocabulary, out var v) ? v : throw new ArgumentException($"field {field} has no vocabulary (it is numeric)");
    }

    /// <summary>
    /// JSON: <c>{"format":"ctrdsl-features","version":1,"schema_hash":"hex","schema":"…",
    /// "vocabularies":[{"name","kind":"tokens|hashed|buckets","min_count","missing":"own_id|as_value","offset","size",
    /// "distinct_in_train","tokens":[… in id order from FirstValueId] | "buckets":n | "boundaries":[…]}],
    /// "numeric":[{"field","mean","std","count"}]}</c>.
    /// </summary>
    /// <summary>Writes the JSON to <c>path.tmp</c> and renames it over <paramref name="path"/>: replaced whole or not at all.</summary>
    public void Save(string path)
    {
        File.WriteAllBytes(path + ".tmp", ToJson());
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private byte[] ToJson() => _json ?? Write((w, k) =>
    {
        var t = Vocabularies[k].Tokens;
        for (int i = 0; i < t.Count; i++) w.WriteStringValue(t.Token(i));
    });

    /// <summary>The JSON, with the token list of each token vocabulary k written by <paramref name="tokens"/>; when
    /// <paramref name="tokenStarts"/> is given, it receives the offset of each token list's '[' (−1 for the other
    /// kinds).</summary>
    private byte[] Write(Action<Utf8JsonWriter, int> tokens, long[]? tokenStarts = null)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteString("format", "ctrdsl-features");
            w.WriteNumber("version", 1);
            w.WriteString("schema_hash", Schema.Hash.ToString("x16", CultureInfo.InvariantCulture));
            w.WriteString("schema", Schema.Describe());
            w.WriteStartArray("vocabularies");
            for (int k = 0; k < Vocabularies.Count; k++)
            {
                var v = Vocabularies[k];
                if (tokenStarts != null) tokenStarts[k] = -1;
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                w.WriteString("kind", v.Kind switch { VocabularyKind.Tokens => "tokens", VocabularyKind.Hashed => "hashed", _ => "buckets" });
                w.WriteNumber("min_count", v.MinCount);
                w.WriteString("missing", v.Missing == MissingPolicy.OwnId ? "own_id" : "as_value");
                w.WriteNumber("offset", v.Offset);
                w.WriteNumber("size", v.Size);
                switch (v.Kind)
                {
                    case VocabularyKind.Tokens:
                        w.WriteNumber("distinct_in_train", v.DistinctInTrain);
                        w.WriteStartArray("tokens");
                        if (tokenStarts != null)
                        {
                            w.Flush();
                            tokenStarts[k] = ms.Position - 1;
                        }
                        tokens(w, k);
                        w.WriteEndArray();
                        break;
                    case VocabularyKind.Hashed: w.WriteNumber("buckets", v.HashBuckets); break;
                    default:
                        w.WriteStartArray("boundaries");
                        foreach (var b in v.Boundaries) w.WriteNumberValue(b);
                        w.WriteEndArray();
                        break;
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("numeric");
            foreach (var n in Numeric)
            {
                w.WriteStartObject();
                w.WriteString("field", n.Field);
                w.WriteNumber("mean", n.Mean);
                w.WriteNumber("std", n.Std);
                w.WriteNumber("count", n.Count);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Loads a saved feature space for <paramref name="schema"/>; a file for another schema is an error. Token
    /// vocabularies are deferred: each builds its token table from the saved JSON, which the feature space keeps, on
    /// first use, so that a training run from a cache (which reads only ids) never holds them.
    /// </summary>
    public static FeatureSpace Load(string path, Schema schema)
    {
        var bytes = File.ReadAllBytes(path);
        var saved = new StrongBox<FeatureSpace>();
        var (vocabs, numeric, tokenLists) = Parse(path, bytes.AsMemory(bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0), schema, saved);
        // The JSON and its hash are those Save writes (the file's bytes once formatting is normalised): the token
        // lists go through the UTF-8 conversion a built table would give them.
        var features = new FeatureSpace(schema, vocabs, numeric, (w, k) =>
        {
            foreach (var x in tokenLists[k]!) w.WriteStringValue(Encoding.UTF8.GetBytes(x));
        });
        saved.Value = features;
        return features;
    }

    /// <summary>
    /// The vocabularies, numeric statistics and token lists of a features JSON; token vocabularies are deferred to
    /// read their tokens from the saved JSON of the feature space <paramref name="saved"/> will hold once it is made.
    /// </summary>
    private static (List<Vocabulary>, NumericStats[], List<string[]?>) Parse(string path, ReadOnlyMemory<byte> json, Schema schema, StrongBox<FeatureSpace> saved)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw DataFormatException.InFile(path, $"not a feature-space JSON file ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (!root.TryGetProperty("format", out var fmt) || fmt.GetString() != "ctrdsl-features")
                throw DataFormatException.InFile(path, "not a ctrdsl-features file");
            if (root.GetProperty("schema_hash").GetString() != schema.Hash.ToString("x16", CultureInfo.InvariantCulture))
                throw DataFormatException.InFile(path, "saved for a different schema");
            var vocabs = new List<Vocabulary>();
            var tokenLists = new List<string[]?>();
            foreach (var v in root.GetProperty("vocabularies").EnumerateArray())
            {
                string name = v.GetProperty("name").GetString()!;
                var missing = v.GetProperty("missing").GetString() == "own_id" ? MissingPolicy.OwnId : MissingPolicy.AsValue;
                int minCount = v.GetProperty("min_count").GetInt32();
                string[]? tokens = null;
                switch (v.GetProperty("kind").GetString())
                {
                    case "tokens":
                        tokens = v.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()!).ToArray();
                        int k = vocabs.Count;
                        vocabs.Add(Vocabulary.Deferred(name, minCount, missing, tokens.Length, () => saved.Value!.SavedTokens(k),
                            v.TryGetProperty("distinct_in_train", out var d) ? d.GetInt32() : 0, path));
                        break;
                    case "hashed": vocabs.Add(Vocabulary.Hashed(name, missing, v.GetProperty("buckets").GetInt32())); break;
                    default: vocabs.Add(Vocabulary.Bucketed(name, v.GetProperty("boundaries").EnumerateArray().Select(x => x.GetDouble()).ToArray())); break;
                }
                tokenLists.Add(tokens);
            }
            var numeric = root.GetProperty("numeric").EnumerateArray()
                .Select(n => new NumericStats(n.GetProperty("field").GetString()!, n.GetProperty("mean").GetDouble(), n.GetProperty("std").GetDouble(), n.GetProperty("count").GetInt64()))
                .ToArray();
            return (vocabs, numeric, tokenLists);
        }
    }

    /// <summary>The token table of vocabulary <paramref name="k"/> from the saved JSON (which this class wrote), read
    /// from its list's '[' to its ']' and no further. Each token goes in as the unescaped UTF-8 the file holds: the
    /// saved JSON already holds the bytes a built table gives each token, so nothing is decoded to a string and back.
    /// </summary>
    private TokenTable SavedTokens(int k)
    {
        var reader = new Utf8JsonReader(_json.AsSpan(checked((int)_tokenStarts![k])), isFinalBlock: true, state: default);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            throw new InvalidOperationException($"features: no token list at the saved offset of vocabulary {Vocabularies[k].Name}");
        var table = new TokenTable(Vocabularies[k].Size);
        byte[] unescaped = [];
        while (reader.Read() && reader.TokenType == JsonTokenType.String)
        {
            ReadOnlySpan<byte> token = reader.ValueSpan;
            if (reader.ValueIsEscaped)
            {
                if (unescaped.Length < token.Length) unescaped = new byte[Math.Max(token.Length, 2 * unescaped.Length)];
                token = unescaped.AsSpan(0, reader.CopyString(unescaped));
            }
            table.GetOrAdd(token, TokenTable.Hash(token));
        }
        return table;
    }

    /// <summary>One line per vocabulary: name, kind and size; for logs and the CLI.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{FeatureCount} features in {Vocabularies.Count} vocabularies");
        foreach (var v in Vocabularies) sb.Append(CultureInfo.InvariantCulture, $"; {v.Name}={v.Size}");
        return sb.ToString();
    }
}
