using CtrDsl.Training;

namespace CtrDsl.Distributed;

/// <summary>
/// Checkpoints of sharded tables as a file per shard. The checkpoint's own file (written by rank 0) holds the dense
/// parameters, their optimizer state and the metadata, and names the sharding (<see cref="RanksKey"/>,
/// <see cref="RowsKey"/>, <see cref="GenerationKey"/>); each rank r of n writes its shard of every table and the
/// shard optimizer's state as <c>{checkpoint}.g{generation}.shard-{r}-of-{n}</c>, itself a <see cref="Checkpoint"/>
/// (atomic write, checksum) with the shard's [⌈rows/n⌉; dim] tensors. Nothing whole is gathered.
/// <para>The generation (the optimizer's step count) is in the shard files' names, so a checkpoint's shards are
/// written beside the previous ones and the previous ones are removed only after the main file names the new
/// generation: a crash at any point leaves one complete checkpoint.</para>
/// <para>Reading: <see cref="Restore"/> fills one rank's shards; with the same n it reads that rank's file alone, with
/// another n (re-sharding) it reads every shard file in turn and keeps its rows (one old shard in memory at a time).
/// <see cref="Assemble"/> gives the checkpoint of one process with whole tables, for evaluation, prediction and
/// export, from all the shard files (they must then be in one folder).</para>
/// </summary>
public static class ShardFiles
{
    public const string RanksKey = "shards.ranks", RowsKey = "shards.rows", GenerationKey = "shards.generation";

    /// <summary>Rank <paramref name="rank"/>'s file of generation <paramref name="generation"/> of <paramref name="checkpoint"/>.</summary>
    public static string PathOf(string checkpoint, long generation, int rank, int ranks) =>
        $"{checkpoint}.g{generation}.shard-{rank}-of-{ranks}";

    /// <summary>Whether <paramref name="c"/> is the main file of a checkpoint with shard files.</summary>
    public static bool IsSharded(Checkpoint c) => c.Metadata.ContainsKey(RanksKey);

    /// <summary>The metadata the main file carries for <paramref name="shards"/> at <paramref name="generation"/>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Describe(ShardedTables shards, long generation) =>
    [
        new(RanksKey, shards.Ranks.ToString()), new(RowsKey, shards.GlobalRows.ToString()),
        new(GenerationKey, generation.ToString()),
    ];

    /// <summary>Writes this rank's shard file of <paramref name="checkpoint"/> at <paramref name="generation"/> (atomically).</summary>
    public static void Save(ShardedTables shards, string checkpoint, long generation)
    {
        var meta = new Dictionary<string, string>(Describe(shards, generation)) { ["shards.rank"] = shards.Rank.ToString() };
        Checkpoint.Live(meta, [], shards.Shards, shards.Optimizer, 0).Save(PathOf(checkpoint, generation, shards.Rank, shards.Ranks));
    }

    /// <summary>
    /// Removes the shard files of <paramref name="checkpoint"/> other than this sharding's at
    /// <paramref name="generation"/>, once the main file names it. Rank r of n removes the files of shard q of any
    /// number of ranks m with q mod n = r: its own older generations, and after a resume onto another n (re-sharding)
    /// the old m's files, each removed by one rank. A rank sees only its own folder when the ranks do not share one.
    /// </summary>
    public static void RemoveOlder(ShardedTables shards, string checkpoint, long generation)
    {
        foreach (var (file, g, q, n) in Files(checkpoint))
            if (q % shards.Ranks == shards.Rank && (g != generation || n != shards.Ranks)) File.Delete(file);
    }

    /// <summary>Removes every shard file of <paramref name="checkpoint"/>: called once a process without sharded
    /// tables (a sharded run resumed as one process) has written the whole checkpoint in its own file.</summary>
    public static void RemoveAll(string checkpoint)
    {
        foreach (var (file, _, _, _) in Files(checkpoint)) File.Delete(file);
    }

    /// <summary>The shard files beside <paramref name="checkpoint"/>: path, generation, shard and number of ranks.</summary>
    private static IEnumerable<(string File, long Generation, int Shard, int Ranks)> Files(string checkpoint)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, name = Path.GetFileName(checkpoint);
        var pattern = new System.Text.RegularExpressions.Regex(
            $@"^{System.Text.RegularExpressions.Regex.Escape(name)}\.g(\d+)\.shard-(\d+)-of-(\d+)$");
        foreach (var f in Directory.EnumerateFiles(folder, $"{name}.g*.shard-*-of-*"))
        {
            var m = pattern.Match(Path.GetFileName(f));
            if (m.Success && long.TryParse(m.Groups[1].Value, out long g) && int.TryParse(m.Groups[2].Value, out int q)
                && int.TryParse(m.Groups[3].Value, out int n))
                yield return (f, g, q, n);
        }
    }

    private sealed record Layout(int Ranks, int Rows, long Generation);

    private static Layout LayoutOf(Checkpoint main, string path)
    {
        int Int(string key) => main.Metadata.TryGetValue(key, out var v) && int.TryParse(v, out int i) && i > 0
            ? i : throw new CheckpointException(path, $"metadata '{key}' is missing or not a positive integer");
        if (!main.Metadata.TryGetValue(GenerationKey, out var g) || !long.TryParse(g, out long generation))
            throw new CheckpointException(path, $"metadata '{GenerationKey}' is missing or not an integer");
        return new Layout(Int(RanksKey), Int(RowsKey), generation);
    }

    /// <summary>
    /// Copies the rows that rank <paramref name="rank"/> of <paramref name="ranks"/> owns from the shard files of
    /// <paramref name="main"/> into <paramref name="tables"/> (by name, [own rows; dim]) and <paramref name="state"/>
    /// (by key, own rows × a width). Reads only file <paramref name="rank"/> when the sharding is the same.
    /// </summary>
    private static long ReadRows(Checkpoint main, string path, int ranks, int rank,
        IReadOnlyDictionary<string, float[]> tables, IReadOnlyDictionary<string, float[]> state)
    {
        var (n, rows, generation) = LayoutOf(main, path);
        int mine = ShardedTables.ShardRows(rows, ranks, rank);
        long steps = -1;
        IEnumerable<int> sources = n == ranks ? [rank] : Enumerable.Range(0, n);
        foreach (int q in sources)
        {
            string file = PathOf(path, generation, q, n);
            if (!File.Exists(file))
                throw new CheckpointException(path, $"its shard file {Path.GetFileName(file)} ({n} ranks, generation {generation}) is missing");
            var c = Checkpoint.Load(file);
            if (steps >= 0 && c.OptimizerSteps != steps)
                throw new CheckpointException(file, $"optimizer steps {c.OptimizerSteps}, the other shards {steps}");
            steps = c.OptimizerSteps;
            int theirs = ShardedTables.ShardRows(rows, n, q);
            void Copy(string what, float[] from, float[] to)
            {
                if (theirs == 0) return;
                int width = from.Length / theirs;
                if (from.Length != (long)theirs * width || to.Length != (long)mine * width)
                    throw new CheckpointException(file, $"{what}: {from.Length} values for {theirs} rows; expected {to.Length / Math.Max(mine, 1)} a row");
                for (int l = 0; l < theirs; l++)
                {
                    long g = (long)l * n + q;
                    if (g % ranks == rank)
                        from.AsSpan(l * width, width).CopyTo(to.AsSpan((int)(g / ranks) * width));
                }
            }
            var saved = c.Parameters.ToDictionary(t => t.Name);
            foreach (var (name, to) in tables)
                Copy(name, saved.TryGetValue(name, out var t) ? t.Values : throw new CheckpointException(file, $"table {name} is not in the shard"), to);
            foreach (var (key, to) in state)
                Copy(key, c.OptimizerState.TryGetValue(key, out var v) ? v : throw new CheckpointException(file, $"optimizer state {key} is not in the shard"), to);
        }
        return steps;
    }

    /// <summary>Fills this rank's shards and their optimizer state from the checkpoint <paramref name="main"/> read from
    /// <paramref name="path"/>, written by any number of ranks.</summary>
    public static void Restore(ShardedTables shards, Checkpoint main, string path)
    {
        var layout = LayoutOf(main, path);
        if (layout.Rows != shards.GlobalRows)
            throw new CheckpointException(path, $"its sharded tables have {layout.Rows} rows, the model's {shards.GlobalRows}");
        var tables = shards.Shards.ToDictionary(p => p.Name, p => new float[p.Value.Length]);
        var state = shards.Optimizer.State.ToDictionary(kv => kv.Key, kv => new float[kv.Value.Length]);
        long steps = ReadRows(main, path, shards.Ranks, shards.Rank, tables, state);
        try { shards.Optimizer.LoadState(state, steps); }
        catch (ArgumentException e) { throw new CheckpointException(path, e.Message); }
        foreach (var p in shards.Shards) tables[p.Name].CopyTo(p.Value, 0);
        shards.Optimizer.LearningRate = main.LearningRate;
    }

    /// <summary>The checkpoint of one process with whole tables that <paramref name="main"/> and its shard files make
    /// (every table and its optimizer state in global id order); <paramref name="main"/> itself when it has no shards.</summary>
    public static Checkpoint Assemble(Checkpoint main, string path)
    {
        if (!IsSharded(main)) return main;
        var (n, rows, generation) = LayoutOf(main, path);
        // The tables and state keys, and their widths, as shard 0 (which has the most rows) has them.
        string first = PathOf(path, generation, 0, n);
        if (!File.Exists(first))
            throw new CheckpointException(path, $"its shard file {Path.GetFileName(first)} ({n} ranks, generation {generation}) is missing");
        var shape = Checkpoint.Load(first);
        int rows0 = ShardedTables.ShardRows(rows, n, 0);
        var tables = shape.Parameters.ToDictionary(t => t.Name, t => new float[(long)rows * (t.Values.Length / rows0)]);
        var state = shape.OptimizerState.ToDictionary(kv => kv.Key, kv => new float[(long)rows * (kv.Value.Length / rows0)]);
        ReadRows(main, path, 1, 0, tables, state);
        var all = new Dictionary<string, float[]>(main.OptimizerState);
        foreach (var (k, v) in state) all[k] = v;
        return new Checkpoint
        {
            Metadata = main.Metadata.Where(kv => !kv.Key.StartsWith("shards.", StringComparison.Ordinal)).ToDictionary(),
            Features = main.Features,
            Parameters = [.. main.Parameters, .. tables.Select(kv => new SavedTensor(kv.Key, [rows, kv.Value.Length / rows], kv.Value))],
            PlanStep = main.PlanStep,
            OptimizerSteps = main.OptimizerSteps,
            LearningRate = main.LearningRate,
            OptimizerState = all,
        };
    }
}
