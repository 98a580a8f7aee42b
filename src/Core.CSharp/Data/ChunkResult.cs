namespace CtrDsl.Data;

/// <summary>
/// The rows parsed from one chunk. In counting mode ids are chunk-local token ids (see <see cref="ChunkParser"/>);
/// in frozen mode they are final global ids.
/// </summary>
internal sealed class ChunkResult
{
    public int Rows;
    public byte[] Split = new byte[256];
    public float[] Labels = new float[256];
    public int[] Ids = new int[256];
    public float[] Dense = new float[256];
    /// <summary>Per sequence field: row start offsets (Rows + 1 of them) and the ids.</summary>
    public List<int>[] SeqOffsets = [];
    public List<int>[] SeqValues = [];
    /// <summary>Counting mode: one table per vocabulary group, train counts and first train row (chunk-local).</summary>
    public TokenTable[] Tables = [];
    /// <summary>Counting mode: per dense field, Σx, Σx², n over train rows (after the log transform, missing excluded).</summary>
    public double[] DenseSum = [], DenseSumSq = [];
    public long[] DenseCount = [];
    /// <summary>Counting mode: per id slot with a quantile rule, the train values.</summary>
    public List<float>?[] QuantileValues = [];
    public List<string> BadRows = [];
    public long TrainRows;

    public static void Ensure<T>(ref T[] a, int n)
    {
        if (a.Length < n) Array.Resize(ref a, Math.Max(n, a.Length * 2));
    }
}
