using System.Text;

namespace CtrDsl.Data;

/// <summary>How a <see cref="Vocabulary"/> turns a value into an id.</summary>
public enum VocabularyKind
{
    /// <summary>A token list built on train: id 0 = OOV (rare or unseen), id 1 = missing under <see cref="MissingPolicy.OwnId"/>, then kept tokens in order of first appearance.</summary>
    Tokens,
    /// <summary><c>1 + FNV-1a-64(bytes) mod buckets</c>; id 0 = missing under <see cref="MissingPolicy.OwnId"/>.</summary>
    Hashed,
    /// <summary>Numeric buckets by ascending boundaries: id 0 = missing (or not a number), then 1..boundaries+1.</summary>
    Buckets,
}

/// <summary>
/// One id range of the global feature table, shared by every field whose <see cref="FieldSpec.Vocabulary"/> names it.
/// Ids here are local (0..<see cref="Size"/>−1); a <see cref="Batch"/> holds <see cref="Offset"/> + local id.
/// Lookups never fail: anything unknown is id 0.
/// </summary>
public sealed class Vocabulary
{
    private TokenTable? _tokens;     // kept tokens; table id i is vocabulary id FirstValueId + i
    // A loaded vocabulary builds its token table on first use (encoding a file, serving, TokenOf): training from a
    // cache reads only ids, so it never holds the table (docs/benchmarks.md, "Issue 18: 10M rows, the data path is
    // flat").
    private readonly Func<TokenTable>? _loadTokens;
    private readonly int _tokenCount;
    private readonly double[] _boundaries;

    internal Vocabulary(string name, VocabularyKind kind, int minCount, MissingPolicy missing, int hashBuckets,
        TokenTable? tokens, double[]? boundaries, int offset, Func<TokenTable>? loadTokens = null, int tokenCount = 0)
    {
        Name = name; Kind = kind; MinCount = minCount; Missing = missing; HashBuckets = hashBuckets;
        _tokens = tokens; _boundaries = boundaries ?? []; Offset = offset;
        _loadTokens = loadTokens; _tokenCount = tokens?.Count ?? tokenCount;
        Size = kind switch
        {
            VocabularyKind.Tokens => FirstValueId + _tokenCount,
            VocabularyKind.Hashed => hashBuckets + 1,
            _ => _boundaries.Length + 2,
        };
    }

    public string Name { get; }
    public VocabularyKind Kind { get; }
    public int MinCount { get; }
    public MissingPolicy Missing { get; }
    public int HashBuckets { get; }
    public IReadOnlyList<double> Boundaries => _boundaries;
    /// <summary>Distinct values seen in train rows before the min-count cut (token vocabularies; 0 otherwise).</summary>
    public int DistinctInTrain { get; internal init; }

    /// <summary>Number of ids, reserved ones included: the rows of this range in the embedding table.</summary>
    public int Size { get; }
    /// <summary>First global id of this vocabulary.</summary>
    public int Offset { get; internal set; }

    public const int OovId = 0;
    /// <summary>Id of a missing value under <see cref="MissingPolicy.OwnId"/> for token vocabularies.</summary>
    public const int MissingId = 1;
    public int FirstValueId => Missing == MissingPolicy.OwnId ? 2 : 1;

    /// <summary>Local id of a raw UTF-8 value (empty = missing); unknown values give <see cref="OovId"/>.</summary>
    public int Lookup(ReadOnlySpan<byte> token)
    {
        switch (Kind)
        {
            case VocabularyKind.Tokens:
                if (token.IsEmpty && Missing == MissingPolicy.OwnId) return MissingId;
                int i = Tokens.Find(token, TokenTable.Hash(token));
                return i < 0 ? OovId : FirstValueId + i;
            case VocabularyKind.Hashed:
                return HashedId(token, Missing, HashBuckets);
            default:
                return token.IsEmpty || !System.Buffers.Text.Utf8Parser.TryParse(token, out double x, out int used) || used != token.Length
                    ? 0 : BucketOf(x);
        }
    }

    public int Lookup(string value) => Lookup(Encoding.UTF8.GetBytes(value));

    /// <summary>Local bucket id of a number under <see cref="VocabularyKind.Buckets"/>: 1 + the number of boundaries ≤ x; NaN is missing (0).</summary>
    public int BucketOf(double x)
    {
        if (double.IsNaN(x)) return 0;
        int lo = 0, hi = _boundaries.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (_boundaries[mid] <= x) lo = mid + 1; else hi = mid;
        }
        return 1 + lo;
    }

    /// <summary>The value of a local id of a token vocabulary: "" for missing, null for OOV or non-token kinds.</summary>
    public string? TokenOf(int id)
    {
        if (Kind != VocabularyKind.Tokens || id == OovId) return null;
        if (Missing == MissingPolicy.OwnId && id == MissingId) return "";
        int i = id - FirstValueId;
        return i < _tokenCount ? Encoding.UTF8.GetString(Tokens.Token(i)) : null;
    }

    internal static int HashedId(ReadOnlySpan<byte> token, MissingPolicy missing, int buckets) =>
        token.IsEmpty && missing == MissingPolicy.OwnId ? 0 : 1 + (int)(TokenHash.Fnv1a64(token) % (ulong)buckets);

    /// <summary>The kept tokens (token vocabularies only), built now if this vocabulary was loaded lazily.</summary>
    internal TokenTable Tokens => Volatile.Read(ref _tokens) ?? BuildTokens();

    /// <summary>Whether the token table exists (built, or loaded on an earlier use); for tests and memory accounting.</summary>
    internal bool TokensBuilt => Volatile.Read(ref _tokens) != null;

    private TokenTable BuildTokens()
    {
        lock (_loadTokens!)
        {
            var t = _tokens;
            if (t == null)
            {
                t = _loadTokens(); // as many tokens as promised: Deferred's loader checks
                Volatile.Write(ref _tokens, t);
            }
            return t;
        }
    }

    /// <summary>
    /// Keeps the tokens of <paramref name="seen"/> with train count ≥ minCount, ordered by first train row (then first
    /// appearance), and returns the map from a token of <paramref name="seen"/> to its local id (0 when dropped).
    /// </summary>
    internal static Vocabulary FromCounts(string name, int minCount, MissingPolicy missing, TokenTable seen, out int[] map)
    {
        var kept = new List<int>();
        for (int i = 0; i < seen.Count; i++)
            if (seen.CountOf(i) >= minCount) kept.Add(i);
        kept.Sort((a, b) => seen.FirstTrainRow(a) != seen.FirstTrainRow(b) ? seen.FirstTrainRow(a).CompareTo(seen.FirstTrainRow(b)) : a.CompareTo(b));
        var table = new TokenTable(kept.Count);
        map = new int[seen.Count];
        int first = missing == MissingPolicy.OwnId ? 2 : 1;
        foreach (int i in kept)
        {
            map[i] = first + table.GetOrAdd(seen.Token(i), seen.HashOf(i), seen.CountOf(i), seen.FirstTrainRow(i));
        }
        int distinct = 0;
        for (int i = 0; i < seen.Count; i++)
            if (seen.CountOf(i) > 0) distinct++;
        return new Vocabulary(name, VocabularyKind.Tokens, minCount, missing, 0, table, null, 0) { DistinctInTrain = distinct };
    }

    /// <summary>A token vocabulary of <paramref name="count"/> tokens whose table <paramref name="load"/> builds on first
    /// use (once, thread-safe); a token listed twice in <paramref name="source"/> (the features file) is an error that
    /// names the file.</summary>
    internal static Vocabulary Deferred(string name, int minCount, MissingPolicy missing, int count, Func<TokenTable> load,
        int distinctInTrain, string source) =>
        new(name, VocabularyKind.Tokens, minCount, missing, 0, null, null, 0, () =>
        {
            var table = load();
            if (table.Count != count)
                throw DataFormatException.InFile(source, $"vocabulary {name} lists {count} tokens but only {table.Count} distinct ones (a token is listed twice)");
            return table;
        }, count) { DistinctInTrain = distinctInTrain };

    internal static Vocabulary Hashed(string name, MissingPolicy missing, int buckets, int offset = 0) =>
        new(name, VocabularyKind.Hashed, 1, missing, buckets, null, null, offset);

    internal static Vocabulary Bucketed(string name, double[] boundaries, int offset = 0) =>
        new(name, VocabularyKind.Buckets, 1, MissingPolicy.OwnId, 0, null, boundaries, offset);
}
