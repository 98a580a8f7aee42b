using System.Runtime.CompilerServices;
using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// The splits of a dataset as memory-mapped caches plus the <see cref="FeatureSpace"/> learned from train.
/// <see cref="Prepare"/> parses each source once: later calls reuse the caches unless the source (size or mtime),
/// the schema or the features changed or the cache is damaged (<see cref="CacheReuse"/>), and <see cref="Log"/> says which happened.
/// </summary>
public sealed class Dataset : IDisposable
{
    private Dataset(FeatureSpace features, DataCache train, DataCache? valid, DataCache? test, List<string> log, long badRows)
    {
        Features = features; Train = train; Valid = valid; Test = test; Log = log; BadRows = badRows;
    }

    public FeatureSpace Features { get; }
    public DataCache Train { get; }
    public DataCache? Valid { get; }
    public DataCache? Test { get; }
    /// <summary>One line per cache: hit, or rebuilt and why; and bad rows skipped.</summary>
    public IReadOnlyList<string> Log { get; }
    /// <summary>Bad rows skipped in this call's parsing (0 on a cache hit).</summary>
    public long BadRows { get; }

    public void Dispose()
    {
        Train.Dispose();
        Valid?.Dispose();
        Test?.Dispose();
    }

    /// <summary>
    /// The stem of a source's cache files: its name, for people reading the folder, and a hash of its full path, so
    /// that two sources with one name (train.csv of two datasets) never share a cache file.
    /// </summary>
    private static string CacheName(string file) =>
        $"{System.IO.Path.GetFileName(file)}.{(uint)TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(file))):x8}";

    /// <summary>
    /// Parses (or reuses) every split. Vocabularies, numeric statistics and quantile boundaries come from train rows
    /// only; valid and test rows map unseen values to OOV. Throws <see cref="DataFormatException"/> for bad data.
    /// </summary>
    /// <summary>The sources to parse once the schema's history fields are materialised (<see cref="HistoryLog"/>).</summary>
    private static DataSources WithHistories(Schema schema, DataSources sources, string cacheDir)
    {
        if (!schema.Fields.Any(f => f.History is not null)) return sources;
        string?[] given = [sources.Train, sources.Valid, sources.Test];
        var present = given.OfType<string>().ToArray();
        var files = HistoryLog.Augment(schema, present, cacheDir);
        string? At(string? s) => s is null ? null : files[Array.IndexOf(present, s)];
        return sources.Rule is SplitRule.ByFile
            ? DataSources.Files(At(sources.Train)!, At(sources.Valid), At(sources.Test))
            : DataSources.Single(files[0], sources.Rule);
    }

    public static Dataset Prepare(Schema schema, DataSources sources, PrepareOptions options)
    {
        schema.Validate();
        if (options.BlockRows < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BlockRows, "BlockRows must be >= 1");
        if (options.ChunkBytes < 16) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkBytes, "ChunkBytes must be >= 16");
        Directory.CreateDirectory(options.CacheDir);
        sources = WithHistories(schema, sources, options.CacheDir);
        var log = new List<string>();
        string Cache(string file, Split split) =>
            System.IO.Path.Combine(options.CacheDir, $"{CacheName(file)}.{split.ToString().ToLowerInvariant()}.ctrcache");
        string featuresPath = System.IO.Path.Combine(options.CacheDir, $"{CacheName(sources.Train)}.features.json");
        bool single = sources.Rule is not SplitRule.ByFile;
        var evalFiles = new List<(Split Split, string Source, string Cache)>();
        if (single)
        {
            evalFiles.Add((Split.Valid, sources.Train, Cache(sources.Train, Split.Valid)));
            evalFiles.Add((Split.Test, sources.Train, Cache(sources.Train, Split.Test)));
        }
        else
        {
            if (sources.Valid != null) evalFiles.Add((Split.Valid, sources.Valid, Cache(sources.Valid, Split.Valid)));
            if (sources.Test != null) evalFiles.Add((Split.Test, sources.Test, Cache(sources.Test, Split.Test)));
        }
        string trainCache = Cache(sources.Train, Split.Train);
        // The caches depend on the schema and on how rows are split.
        ulong key = TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(schema.Describe() + ";" + sources.Rule));

        // Caches found reusable stay open for the result: a finished cache's blocks are checksummed when it opens.
        var open = new Dictionary<string, DataCache>();
        try
        {
            FeatureSpace? features = null;
            string? why = Reuse(trainCache, sources.Train, key, null);
            if (why == null)
            {
                try
                {
                    features = FeatureSpace.Load(featuresPath, schema);
                    if (open[trainCache].FeaturesHash != features.Hash) why = "the saved features changed";
                }
                catch (Exception e) when (e is DataFormatException or IOException or KeyNotFoundException or InvalidOperationException)
                {
                    why = "the saved features are missing or unreadable";
                }
            }
            if (why == null && single)
                foreach (var (_, src, cache) in evalFiles)
                    why ??= Reuse(cache, src, key, features);
            long bad = 0;
            if (why != null)
            {
                var targets = single ? new[] { trainCache, evalFiles[0].Cache, evalFiles[1].Cache } : new[] { trainCache };
                foreach (var t in targets) Close(t);
                var built = Build(schema, key, sources.Train, targets, null, sources.Rule, Split.Train, options, log);
                // The counting tables (every distinct value seen) and the parse's chunk buffers are garbage now: hand
                // them back before the remap and the evaluation files' parse allocate their own.
                Diagnostics.ProcessMemory.ReturnGarbage();
                features = built.Features!;
                features.Save(featuresPath);
                bad += built.BadRows;
                log.Add($"{trainCache}: rebuilt ({why}); {features.Summary()}");
                foreach (var t in targets) Finalize(t, built, features);
                if (single)
                    foreach (var (_, _, cache) in evalFiles) log.Add($"{cache}: rebuilt ({why})");
            }
            else log.Add($"{trainCache}: cache hit");
            if (!single)
                foreach (var (split, src, cache) in evalFiles)
                {
                    string? evalWhy = Reuse(cache, src, key, features);
                    if (evalWhy == null) { log.Add($"{cache}: cache hit"); continue; }
                    var built = Build(schema, key, src, [cache], features, new SplitRule.ByFile(), split, options, log);
                    bad += built.BadRows;
                    log.Add($"{cache}: rebuilt ({evalWhy})");
                    Finalize(cache, built, features!);
                }
            var caches = evalFiles.ToDictionary(e => e.Split, e => Take(e.Cache));
            return new Dataset(features!, Take(trainCache), caches.GetValueOrDefault(Split.Valid), caches.GetValueOrDefault(Split.Test), log, bad);
        }
        finally
        {
            foreach (var c in open.Values) c.Dispose();
        }

        string? Reuse(string cache, string source, ulong key, FeatureSpace? features)
        {
            string? why = CacheReuse.Check(cache, source, key, features, options, out var c);
            if (c != null) open[cache] = c;
            return why;
        }
        void Close(string cache)
        {
            if (open.Remove(cache, out var c)) c.Dispose();
        }
        DataCache Take(string cache) => open.Remove(cache, out var c) ? c : DataCache.Open(cache);
    }

    /// <summary>
    /// Encodes another file (a test set, or new rows to score) with features learned before, e.g. those saved with a
    /// model: unseen values map to the OOV id. The cache sits in <see cref="PrepareOptions.CacheDir"/>, keyed by the
    /// file name and the features, and is reused while the source and the features are unchanged. The caller owns
    /// the returned cache.
    /// </summary>
    public static DataCache Encode(FeatureSpace features, string source, PrepareOptions options, ICollection<string>? log = null)
    {
        var schema = features.Schema;
        Directory.CreateDirectory(options.CacheDir);
        source = HistoryLog.Augment(schema, [source], options.CacheDir)[0];
        string cache = System.IO.Path.Combine(options.CacheDir,
            $"{CacheName(source)}.{features.Hash:x16}.encoded.ctrcache");
        var rule = new SplitRule.ByFile();
        ulong key = TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(schema.Describe() + ";" + rule));
        string? why = CacheReuse.Check(cache, source, key, features, options, out var hit);
        if (hit != null)
        {
            log?.Add($"{cache}: cache hit");
            return hit;
        }
        var lines = new List<string>();
        var built = Build(schema, key, source, [cache], features, rule, Split.Test, options, lines);
        Finalize(cache, built, features);
        foreach (var l in lines) log?.Add(l);
        log?.Add($"{cache}: rebuilt ({why})");
        return DataCache.Open(cache);
    }

    private sealed class BuildResult
    {
        public FeatureSpace? Features;
        public RowLayout Layout = null!;
        public int[]?[] Maps = [];
        public long BadRows;
        public string Source = "";
        /// <summary>Built the vocabularies: the cache holds pass-one values that <see cref="Remap"/> finishes.</summary>
        public bool Counting;
    }

    /// <summary>Parses one source into the target caches (.tmp files), merging chunk results in file order.</summary>
    private static BuildResult Build(Schema schema, ulong key, string source, string[] targets, FeatureSpace? frozen, SplitRule rule,
        Split fileSplit, PrepareOptions options, List<string> log)
    {
        bool quoting = schema.Format is SourceFormat.Delimited { Quoting: true };
        using var reader = new SourceReader(source, quoting, options.ChunkBytes);
        var first = reader.Next() ?? throw DataFormatException.InFile(source, "the file is empty");
        string[] columns = RecordSplitter.Columns(schema, source, first);
        var layout = RowLayout.Resolve(schema, source, columns, rule);
        int nGroups = layout.Groups.Length;
        var global = layout.Counted.Select(c => new TokenTable(c ? 1 << 12 : 0)).ToArray();
        var denseSum = new double[layout.Dense.Length];
        var denseSumSq = new double[layout.Dense.Length];
        var denseCount = new long[layout.Dense.Length];
        var reservoirs = layout.Ids.Select(s => s.Kind == EncodingKind.QuantileBucket ? new List<float>() : null).ToArray();
        long reservoirSeen = 0;
        var rng = new Random(20240521);
        const int ReservoirSize = 1 << 20;
        var writers = targets.Select(t => new CacheWriter(t + ".tmp", schema.LabelCount, layout.Ids.Length, layout.Dense.Length, layout.Seqs.Length, options.BlockRows)).ToArray();
        long rowBase = 0, badRows = 0;
        string? firstBad = null;
        int threads = Math.Max(1, options.Threads);
        // Pipeline: up to 2 × threads chunks parse on the thread pool while this thread reads ahead and merges the
        // oldest result; merging strictly in chunk order keeps ids in order of first appearance.
        var parsers = new System.Collections.Concurrent.ConcurrentBag<ChunkParser>();
        var results = new System.Collections.Concurrent.ConcurrentBag<ChunkResult>();   // reused: no fresh pages per chunk
        var inFlight = new Queue<Task<ChunkResult>>();
        var limiter = new SemaphoreSlim(threads);
        Task<ChunkResult> Start(Chunk c) => Task.Run(async () =>
        {
            await limiter.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!parsers.TryTake(out var p)) p = new ChunkParser(layout, frozen, rule, fileSplit, options.BadRows.MaxBadRows > 0);
                results.TryTake(out var reuse);
                var r = p.Parse(c, reuse);
                parsers.Add(p);
                return r;
            }
            finally
            {
                c.Release();
                limiter.Release();
            }
        });
        Chunk? nextChunk = first;
        try
        {
            while (true)
            {
                while (nextChunk != null && inFlight.Count < 2 * threads)
                {
                    inFlight.Enqueue(Start(nextChunk));
                    nextChunk = reader.Next();
                }
                if (inFlight.Count == 0) break;
                ChunkResult r;
                try { r = inFlight.Dequeue().GetAwaiter().GetResult(); }
                catch (DataFormatException)
                {
                    foreach (var t in inFlight) { try { t.Wait(); } catch (AggregateException) { } }
                    throw;
                }
                if (r.BadRows.Count > 0)
                {
                    firstBad ??= r.BadRows[0];
                    badRows += r.BadRows.Count;
                    if (badRows > options.BadRows.MaxBadRows)
                        throw new DataFormatException($"{source}: more than {options.BadRows.MaxBadRows} bad rows; the first: {firstBad}") { File = source };
                }
                if (frozen == null) Merge(r, layout, global, rowBase, denseSum, denseSumSq, denseCount, reservoirs, ref reservoirSeen, rng, ReservoirSize);
                if (frozen != null || rule is SplitRule.ByFile) writers[0].AddRange(r, 0, r.Rows);
                else
                    for (int row = 0; row < r.Rows; row++) writers[r.Split[row]].Add(r, row);
                rowBase += r.Rows;
                results.Add(r);
            }
            if (writers[0].RowCount == 0 && rowBase == 0)
                throw DataFormatException.InFile(source, schema.Format is SourceFormat.Delimited { Header: true } ? "no data rows after the header" : "no data rows");
            var info = new FileInfo(source);
            foreach (var w in writers) w.Finish(key, info.Length, info.LastWriteTimeUtc.Ticks);
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
        if (badRows > 0) log.Add($"{source}: skipped {badRows} bad rows; the first: {firstBad}");
        var result = new BuildResult { Source = source, Counting = frozen == null, Layout = layout, BadRows = badRows, Features = frozen, Maps = new int[]?[nGroups] };
        if (frozen == null)
        {
            var vocabs = new List<Vocabulary>();
            for (int g = 0; g < nGroups; g++)
            {
                var fieldSpec = layout.GroupFields[g];
                string name = layout.Groups[g];
                if (fieldSpec.HashBuckets > 0) vocabs.Add(Vocabulary.Hashed(name, schema.MissingOf(fieldSpec), fieldSpec.HashBuckets));
                else if (fieldSpec.Buckets is BucketRule.Fixed fx) vocabs.Add(Vocabulary.Bucketed(name, fx.Boundaries.ToArray()));
                else if (fieldSpec.Buckets is BucketRule.Quantile q) // a bucketized field: the group's first id slot
                    vocabs.Add(Vocabulary.Bucketed(name, Quantiles(reservoirs[Array.FindIndex(layout.Ids, s => s.Group == g)]!, q.Buckets)));
                else
                {
                    vocabs.Add(Vocabulary.FromCounts(name, schema.MinCountOf(fieldSpec), schema.MissingOf(fieldSpec), global[g], out var map));
                    result.Maps[g] = map;
                }
            }
            var stats = layout.Dense.Select((d, i) =>
            {
                long n = denseCount[i];
                double mean = n > 0 ? denseSum[i] / n : 0;
                double var = n > 0 ? Math.Max(denseSumSq[i] / n - mean * mean, 0) : 0;
                double std = Math.Sqrt(var);
                return new NumericStats(d.Field.Name, mean, std > 1e-12 ? std : 1, n);
            }).ToArray();
            result.Features = new FeatureSpace(schema, vocabs, stats);
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Merge(ChunkResult r, RowLayout layout, TokenTable[] global, long rowBase, double[] denseSum, double[] denseSumSq,
        long[] denseCount, List<float>?[] reservoirs, ref long seen, Random rng, int reservoirSize)
    {
        var maps = new int[r.Tables.Length][];
        for (int g = 0; g < r.Tables.Length; g++)
        {
            var t = r.Tables[g];
            var map = maps[g] = new int[t.Count];
            for (int i = 0; i < t.Count; i++)
            {
                long count = t.CountOf(i);
                map[i] = global[g].GetOrAdd(t.Token(i), t.HashOf(i), count, count > 0 ? rowBase + t.FirstTrainRow(i) : -1);
            }
        }
        int nIds = layout.Ids.Length;
        for (int k = 0; k < nIds; k++)
        {
            if (layout.Ids[k].Kind is not (EncodingKind.Token or EncodingKind.Log3)) continue;
            var map = maps[layout.Ids[k].Group];
            for (int row = 0, p = k; row < r.Rows; row++, p += nIds)
                if (r.Ids[p] >= 0) r.Ids[p] = map[r.Ids[p]];
        }
        for (int s = 0; s < layout.Seqs.Length; s++)
        {
            if (layout.Seqs[s].Hashed) continue;
            var map = maps[layout.Seqs[s].Group];
            var values = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.SeqValues[s]);
            for (int i = 0; i < values.Length; i++) values[i] = map[values[i]];
        }
        for (int i = 0; i < denseSum.Length; i++)
        {
            denseSum[i] += r.DenseSum[i]; denseSumSq[i] += r.DenseSumSq[i]; denseCount[i] += r.DenseCount[i];
        }
        for (int k = 0; k < reservoirs.Length; k++)
        {
            var res = reservoirs[k];
            if (res == null) continue;
            long n = seen;
            foreach (float v in r.QuantileValues[k]!)
            {
                if (res.Count < reservoirSize) res.Add(v);
                else
                {
                    long j = rng.NextInt64(n + 1);
                    if (j < reservoirSize) res[(int)j] = v;
                }
                n++;
            }
        }
        if (reservoirs.Any(x => x != null)) seen += r.QuantileValues.First(x => x != null)!.Count;
    }

    private static double[] Quantiles(List<float> values, int buckets)
    {
        if (values.Count == 0) return [];
        var sorted = values.Select(v => (double)v).Order().ToArray();
        var b = new List<double>();
        for (int i = 1; i < buckets; i++)
        {
            double q = sorted[Math.Min(sorted.Length - 1, (int)((long)i * sorted.Length / buckets))];
            if (b.Count == 0 || q > b[^1]) b.Add(q);
        }
        return b.ToArray();
    }

    /// <summary>Turns the pass-one values of a .tmp cache into final global ids and values, then moves it in place.</summary>
    private static unsafe void Finalize(string target, BuildResult built, FeatureSpace features)
    {
        string tmp = target + ".tmp";
        var layout = built.Layout;
        using (var cache = DataCache.OpenWritable(tmp))
        {
            if (built.Counting) Remap(cache, built, features);
            cache.MarkComplete(features.Hash);
        }
        File.Move(tmp, target, overwrite: true);
    }

    private static void Remap(DataCache cache, BuildResult built, FeatureSpace features)
    {
        var layout = built.Layout;
        var plan = new RemapPlan(
            built.Source,
            layout,
            built.Maps,
            layout.Ids.Select(s => features.VocabularyOf(s.Field.Name)).ToArray(),
            layout.Seqs.Select(s => features.VocabularyOf(s.Field.Name)).ToArray(),
            layout.Dense.Select(d => new FieldEncoding(layout.Schema, d.Field, features)).ToArray());
        try { Parallel.For(0, cache.BlockCount, PageAdvice.OneBlockPerCore, b => RemapBlock(cache, b, plan)); }
        catch (AggregateException e) when (e.InnerException is DataFormatException d) { throw d; }
    }

    private static DataFormatException Overflow(string source, FieldEncoding e, long row) =>
        DataFormatException.InFile(source, $"field {e.Field.Name}: standardizing (mean {e.Mean:g6}, std {e.Std:g6}) takes the value of train row {row + 1} beyond float32's range (±3.4e38)");

    private sealed record RemapPlan(string Source, RowLayout Layout, int[]?[] Maps, Vocabulary[] Vocab, Vocabulary[] SeqVocab, FieldEncoding[] Dense);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RemapBlock(DataCache cache, int b, RemapPlan plan)
    {
        var layout = plan.Layout;
        int nIds = layout.Ids.Length, nDense = layout.Dense.Length;
        int rows = cache.BlockRows(b);
        int* ids = cache.IdsPtr(b);
        for (int k = 0; k < nIds; k++)
        {
            var slot = layout.Ids[k];
            var vocab = plan.Vocab[k];
            int offset = vocab.Offset;
            var map = plan.Maps[slot.Group];
            for (int row = 0; row < rows; row++)
            {
                ref int v = ref ids[row * nIds + k];
                v = slot.Kind switch
                {
                    EncodingKind.Token or EncodingKind.Log3 => offset + (v < 0 ? Vocabulary.MissingId : map![v]),
                    EncodingKind.QuantileBucket => offset + vocab.BucketOf(BitConverter.Int32BitsToSingle(v)),
                    _ => offset + v,
                };
            }
        }
        float* dense = cache.DensePtr(b);
        for (int row = 0; row < rows; row++)
            for (int k = 0; k < nDense; k++)
            {
                // Pass one kept each value within float32; standardizing by a tiny std can still overflow it.
                float v = plan.Dense[k].Finish(dense[row * nDense + k]);
                if (!float.IsFinite(v)) throw Overflow(plan.Source, plan.Dense[k], cache.BlockFirstRow(b) + row);
                dense[row * nDense + k] = v;
            }
        for (int s = 0; s < layout.Seqs.Length; s++)
        {
            int* values = cache.SeqPtr(b, s, out int n) + rows + 1;
            int offset = plan.SeqVocab[s].Offset;
            var map = plan.Maps[layout.Seqs[s].Group];
            for (int i = 0; i < n; i++) values[i] = offset + (map == null ? values[i] : map[values[i]]);
        }
        cache.Release(b);   // remapped: out of the resident set, so the build's RSS does not grow with the file
    }
}
