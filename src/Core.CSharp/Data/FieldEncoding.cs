using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace CtrDsl.Data;

/// <summary>Which rule of <see cref="FieldEncoding"/> a field follows.</summary>
internal enum EncodingKind : byte
{
    /// <summary>A categorical value through a token vocabulary.</summary>
    Token,
    /// <summary>A categorical value hashed into buckets.</summary>
    Hashed,
    /// <summary>A number's log bucket token (<see cref="BucketRule.Log3"/>) through a token vocabulary.</summary>
    Log3,
    /// <summary>A number's bucket by fixed boundaries.</summary>
    FixedBucket,
    /// <summary>A number's bucket by the train quantiles.</summary>
    QuantileBucket,
    /// <summary>A number after its transform: a column of <c>Batch.Dense</c>.</summary>
    Numeric,
    /// <summary>A separated list of tokens, each through the vocabulary (or hashed).</summary>
    Sequence,
}

/// <summary>
/// The rules that turn one raw value of a field (UTF-8 bytes, or a number) into ids or a dense value. The file
/// parser (<see cref="ChunkParser"/>) and serving (<see cref="RowEncoder"/>) both encode through this class, so a
/// value gets the same id whichever way it arrives.
/// <para>
/// Built with a <see cref="FeatureSpace"/>, an encoding is final: <see cref="Id"/>, <see cref="BucketId"/> and
/// <see cref="Dense"/> give global ids and finished values. Without one (pass one over train) token values take
/// <see cref="LocalId"/> in a chunk's table, hashed and fixed-bucket ids are local (offset 0), quantile buckets wait
/// for their boundaries, and numbers stop after <see cref="Transform"/> so that their statistics can be learned.
/// </para>
/// </summary>
internal sealed class FieldEncoding
{
    public FieldEncoding(Schema schema, FieldSpec field, FeatureSpace? features)
    {
        Field = field;
        Kind = KindOf(field);
        Missing = schema.MissingOf(field);
        HashBuckets = field.HashBuckets;
        _hashed = HashBuckets > 0 && Kind is EncodingKind.Hashed or EncodingKind.Sequence;
        Final = features != null;
        if (features == null)
        {
            if (field.Buckets is BucketRule.Fixed fx) Vocabulary = Vocabulary.Bucketed(field.Name, fx.Boundaries.ToArray());
        }
        else if (Kind == EncodingKind.Numeric)
        {
            var stats = features.Numeric.FirstOrDefault(n => n.Field == field.Name);
            if (stats != null) { Mean = stats.Mean; Std = stats.Std; }
        }
        else
        {
            Vocabulary = features.VocabularyOf(field.Name);
            Offset = Vocabulary.Offset;
        }
    }

    public FieldSpec Field { get; }
    public EncodingKind Kind { get; }
    public MissingPolicy Missing { get; }
    public int HashBuckets { get; }
    /// <summary>Ids are final and global (a feature space was given).</summary>
    public bool Final { get; }
    /// <summary>The learned vocabulary when final; before that only a fixed-bucket rule has one.</summary>
    public Vocabulary? Vocabulary { get; }
    /// <summary>First global id of the field's vocabulary (0 before the vocabularies are known).</summary>
    public int Offset { get; }
    public double Mean { get; }
    public double Std { get; } = 1;
    /// <summary>Token values are hashed (a hashed categorical or sequence field): their ids need no vocabulary.</summary>
    public bool Hashed => _hashed;
    private readonly bool _hashed;

    /// <summary>The rule a field follows: its kind, then its hashing or bucket rule.</summary>
    public static EncodingKind KindOf(FieldSpec f) => f.Kind switch
    {
        FieldKind.Categorical => f.HashBuckets > 0 ? EncodingKind.Hashed : EncodingKind.Token,
        FieldKind.Bucketized => f.Buckets switch
        {
            BucketRule.Log3 => EncodingKind.Log3,
            BucketRule.Fixed => EncodingKind.FixedBucket,
            _ => EncodingKind.QuantileBucket,
        },
        FieldKind.Numeric => EncodingKind.Numeric,
        _ => EncodingKind.Sequence,
    };

    // ---- tokens ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// The id of a token (empty = missing) of a token, hashed, log-bucket or sequence field: hashed fields give
    /// <c>Offset + 1 + FNV-1a-64(bytes) mod HashBuckets</c> (0 for missing under OwnId), others the vocabulary's id
    /// (OOV 0 for unknown values). Final encodings only, except for hashed fields, whose local ids need no vocabulary.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Id(ReadOnlySpan<byte> token) =>
        Offset + (_hashed ? Vocabulary.HashedId(token, Missing, HashBuckets) : Vocabulary!.Lookup(token));

    /// <summary>
    /// Pass one's id of a token value: −1 for missing under <see cref="MissingPolicy.OwnId"/>, otherwise its index in
    /// the chunk's <paramref name="table"/> of the field's vocabulary, counted (with its first row) when the row is a train row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LocalId(TokenTable table, ReadOnlySpan<byte> token, bool train, int row)
    {
        if (token.IsEmpty && Missing == MissingPolicy.OwnId) return -1;
        return table.GetOrAdd(token, TokenTable.Hash(token), train ? 1 : 0, row);
    }

    /// <summary>
    /// The non-empty pieces of a separated list, in order (empty pieces, as in <c>a||b</c>, are skipped):
    /// <c>foreach (var (start, length) in FieldEncoding.Pieces(list, sep))</c>.
    /// </summary>
    public static PieceEnumerator Pieces(ReadOnlySpan<byte> list, char separator) => new(list, (byte)separator);

    public ref struct PieceEnumerator(ReadOnlySpan<byte> list, byte separator)
    {
        private readonly ReadOnlySpan<byte> _list = list;
        private int _next;

        public (int Start, int Length) Current { get; private set; }
        public readonly PieceEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_next <= _list.Length)
            {
                int s = _next;
                int k = _list[s..].IndexOf(separator);
                int length = k < 0 ? _list.Length - s : k;
                _next = k < 0 ? _list.Length + 1 : s + k + 1;
                if (length > 0) { Current = (s, length); return true; }
            }
            return false;
        }
    }

    // ---- numbers ---------------------------------------------------------------------------------------------------

    /// <summary>The bucket id of a number (NaN is missing, id 0) under the field's boundaries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int BucketId(double x) => Offset + Vocabulary!.BucketOf(x);

    /// <summary>
    /// The first half of a numeric transform, the part the train statistics are taken after: log1p(max(x, 0)) under
    /// Log1p and Log1pStandardize; NaN (missing) stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Transform(double x) =>
        !double.IsNaN(x) && Field.Transform is NumericTransform.Log1p or NumericTransform.Log1pStandardize ? Log1p(Math.Max(x, 0)) : x;

    /// <summary>The finished dense value of a number (NaN is missing): the whole transform with the train statistics.</summary>
    public float Dense(double x) => Finish(Transform(x));

    /// <summary>The second half of the transform: standardises (when asked) a transformed value and replaces missing by the field's default.</summary>
    public float Finish(double x)
    {
        if (double.IsNaN(x)) return Field.Default;
        if (Field.Transform is NumericTransform.Standardize or NumericTransform.Log1pStandardize) x = (x - Mean) / Std;
        return (float)x;
    }

    /// <summary>Integers (the common case: counts) take a fast path; anything else goes through the double parser. Infinities and NaN are refused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryNumber(ReadOnlySpan<byte> s, out double x)
    {
        if (s.Length is > 0 and <= 18)
        {
            int i = s[0] == (byte)'-' ? 1 : 0;
            long v = 0;
            for (; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9) break;
                v = v * 10 + d;
            }
            if (i == s.Length && (s[0] != (byte)'-' || s.Length > 1))
            {
                x = s[0] == (byte)'-' ? -v : v;
                return true;
            }
        }
        return Utf8Parser.TryParse(s, out x, out int used) && used == s.Length && double.IsFinite(x);
    }

    /// <summary>
    /// The vocabulary token of a log-bucketed number: "b" and the digits of <see cref="LogBucket"/>, or the empty
    /// token when <paramref name="x"/> is NaN (missing). <paramref name="buffer"/> holds at least 12 bytes.
    /// </summary>
    public static ReadOnlySpan<byte> LogToken(double x, Span<byte> buffer) =>
        double.IsNaN(x) ? buffer[..0] : buffer[..WriteLogToken(LogBucket(x), buffer)];

    /// <summary>Writes bucket <paramref name="k"/>'s token, "b" and its digits, into <paramref name="dst"/> (at least 12 bytes) and returns its length.</summary>
    private static int WriteLogToken(int k, Span<byte> dst)
    {
        dst[0] = (byte)'b';
        Utf8Formatter.TryFormat(k, dst[1..], out int w);
        return 1 + w;
    }

    /// <summary>floor(3·log1p(max(x, 0))): the reference's dense bucket rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int LogBucket(double x)
    {
        if (x >= 0 && x < SmallBuckets.Length && x == Math.Floor(x)) return SmallBuckets[(int)x];
        return (int)Math.Floor(3.0 * Log1p(Math.Max(x, 0)));
    }

    private static readonly int[] SmallBuckets =
        Enumerable.Range(0, 1 << 12).Select(v => (int)Math.Floor(3.0 * Math.Log(1.0 + v))).ToArray();

    /// <summary>log(1 + x), accurate for small x (Math.Log(1 + x) loses digits below 1e-4).</summary>
    public static double Log1p(double x)
    {
        if (Math.Abs(x) >= 1e-4) return Math.Log(1.0 + x);
        return x * (1 - x * (0.5 - x / 3));
    }
}
