using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CtrDsl.Optim;
using CtrDsl.Tensors;

namespace CtrDsl.Training;

/// <summary>A parameter's values as saved: its name, shape and row-major values.</summary>
public sealed record SavedTensor(string Name, int[] Shape, float[] Values);

/// <summary>
/// Everything needed to rebuild a trained model and to resume its training bit-identically: string metadata (the
/// caller's: model name and settings, schema, loop state), the feature-space JSON, every parameter's values (batch-norm
/// statistics included), the plan's step counter (it seeds dropout) and the optimizer's step count, learning rate and
/// state arrays.
/// <para>File format (little-endian), version 1:</para>
/// <code>
/// magic      8 bytes  "CTRCKPT\n"
/// version    int32    1
/// metadata   int32 count, then count × (string key, string value)
/// features   int32 length, then that many bytes (FeatureSpace JSON)
/// parameters int32 count, then count × (string name, int32 rank, rank × int32 dim, int64 numel, numel × float32)
/// plan step  int64
/// optimizer  int64 steps, float32 learning rate, int32 count, then count × (string key, int64 length, length × float32)
/// checksum   32 bytes SHA-256 of every byte before it
/// string   = int32 byte length, then UTF-8 bytes
/// </code>
/// <see cref="Save"/> writes a temporary file next to the target, flushes it to disk and renames it over the target, so
/// an existing checkpoint is replaced whole or not at all. <see cref="Load"/> checks the magic, version and checksum
/// and throws <see cref="CheckpointException"/> with one line naming the file.
/// </summary>
public sealed class Checkpoint
{
    private static ReadOnlySpan<byte> Magic => "CTRCKPT\n"u8;
    public const int Version = 1;

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    public required byte[] Features { get; init; }
    public required IReadOnlyList<SavedTensor> Parameters { get; init; }
    public long PlanStep { get; init; }
    public long OptimizerSteps { get; init; }
    public float LearningRate { get; init; }
    public required IReadOnlyDictionary<string, float[]> OptimizerState { get; init; }

    /// <summary>Copies the current values of <paramref name="parameters"/> and, when given, the optimizer's state.</summary>
    public static Checkpoint Capture(IReadOnlyDictionary<string, string> metadata, byte[] features,
        IEnumerable<Parameter> parameters, Optimizer? optimizer, long planStep) =>
        Of(metadata, features, parameters, optimizer, planStep, copy: true);

    /// <summary>
    /// The current values of <paramref name="parameters"/> and the optimizer's state by reference, not copied: for a
    /// <see cref="Save"/> made at once, while nothing trains (a training loop's checkpoint). A copy would cost the
    /// parameters and the optimizer's state again (with Adam, three times the tables) for each checkpoint written, two
    /// at an epoch end (the best and the last), all of it growing with the vocabulary.
    /// </summary>
    public static Checkpoint Live(IReadOnlyDictionary<string, string> metadata, byte[] features,
        IEnumerable<Parameter> parameters, Optimizer? optimizer, long planStep) =>
        Of(metadata, features, parameters, optimizer, planStep, copy: false);

    private static Checkpoint Of(IReadOnlyDictionary<string, string> metadata, byte[] features,
        IEnumerable<Parameter> parameters, Optimizer? optimizer, long planStep, bool copy) => new()
        {
            Metadata = new Dictionary<string, string>(metadata),
            Features = features,
            Parameters = parameters.Select(p => new SavedTensor(p.Name, (int[])p.Shape.Clone(), copy ? (float[])p.Value.Clone() : p.Value)).ToArray(),
            PlanStep = planStep,
            OptimizerSteps = optimizer?.Steps ?? 0,
            LearningRate = optimizer?.LearningRate ?? 0f,
            OptimizerState = optimizer is null
                ? new Dictionary<string, float[]>()
                : optimizer.State.ToDictionary(kv => kv.Key, kv => copy ? (float[])kv.Value.Clone() : kv.Value),
        };

    /// <summary>
    /// Copies saved values into <paramref name="parameters"/> (matched by name, in place). Every parameter must be
    /// saved with the same shape and nothing else may be saved; otherwise throws naming the parameter.
    /// </summary>
    public void RestoreParameters(IEnumerable<Parameter> parameters, string file)
    {
        var saved = new Dictionary<string, SavedTensor>();
        foreach (var t in Parameters) saved[t.Name] = t;
        var seen = new HashSet<string>();
        foreach (var p in parameters)
        {
            if (!saved.TryGetValue(p.Name, out var t))
                throw new CheckpointException(file, $"parameter {p} is not in the checkpoint (was it saved for another model or settings?)");
            if (!t.Shape.AsSpan().SequenceEqual(p.Shape))
                throw new CheckpointException(file, $"parameter {p.Name}: expected shape [{string.Join("; ", p.Shape)}], the checkpoint has [{string.Join("; ", t.Shape)}]");
            t.Values.CopyTo(p.Value, 0);
            seen.Add(p.Name);
        }
        foreach (var name in saved.Keys)
            if (!seen.Contains(name))
                throw new CheckpointException(file, $"the checkpoint has parameter {name}, which the model does not");
    }

    /// <summary>Loads the optimizer's state, step count and learning rate.</summary>
    public void RestoreOptimizer(Optimizer optimizer, string file)
    {
        try { optimizer.LoadState(OptimizerState, OptimizerSteps); }
        catch (ArgumentException e) { throw new CheckpointException(file, e.Message); }
        optimizer.LearningRate = LearningRate;
    }

    /// <summary>Writes the checkpoint atomically: a temporary file, flushed, then renamed over <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        string tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var w = new HashingWriter(stream, sha);
            w.Bytes(Magic);
            w.Int32(Version);
            w.Int32(Metadata.Count);
            foreach (var (k, v) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { w.String(k); w.String(v); }
            w.Int32(Features.Length);
            w.Bytes(Features);
            w.Int32(Parameters.Count);
            foreach (var t in Parameters)
            {
                w.String(t.Name);
                w.Int32(t.Shape.Length);
                foreach (var d in t.Shape) w.Int32(d);
                w.Int64(t.Values.LongLength);
                w.Floats(t.Values);
            }
            w.Int64(PlanStep);
            w.Int64(OptimizerSteps);
            w.Float(LearningRate);
            w.Int32(OptimizerState.Count);
            foreach (var (k, v) in OptimizerState.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.String(k);
                w.Int64(v.LongLength);
                w.Floats(v);
            }
            stream.Write(sha.GetHashAndReset());
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Reads and validates a checkpoint file. It streams the file twice (the checksum, then the values straight into
    /// their arrays), so reading holds nothing beyond the values themselves: not a second copy of the whole file.
    /// </summary>
    public static Checkpoint Load(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            long length = stream.Length;
            if (length < Magic.Length + 4 + 32) throw new CheckpointException(path, "not a CtrDsl checkpoint (bad magic)");
            var r = new Reader(stream, length - 32, path);
            if (!r.Take(Magic.Length).SequenceEqual(Magic)) throw new CheckpointException(path, "not a CtrDsl checkpoint (bad magic)");
            int version = BinaryPrimitives.ReadInt32LittleEndian(r.Take(4));
            if (version != Version)
                throw new CheckpointException(path, $"checkpoint format version {version}; this build reads version {Version}");
            if (!Checksum(stream, length - 32).AsSpan().SequenceEqual(r.Tail()))
                throw new CheckpointException(path, "the checksum does not match: the file is truncated or corrupted");
            r.Seek(Magic.Length + 4);
            var meta = new Dictionary<string, string>();
            for (int i = r.Count(); i > 0; i--) meta[r.String()] = r.String();
            var features = r.Bytes(r.Count());
            var parameters = new SavedTensor[r.Count()];
            for (int i = 0; i < parameters.Length; i++)
            {
                string name = r.String();
                var shape = new int[r.Count()];
                for (int d = 0; d < shape.Length; d++) shape[d] = r.Count();
                parameters[i] = new SavedTensor(name, shape, r.Floats(r.Length()));
            }
            long planStep = r.Int64();
            long steps = r.Int64();
            float lr = BinaryPrimitives.ReadSingleLittleEndian(r.Take(4));
            var state = new Dictionary<string, float[]>();
            for (int i = r.Count(); i > 0; i--) state[r.String()] = r.Floats(r.Length());
            r.End();
            return new Checkpoint
            {
                Metadata = meta, Features = features, Parameters = parameters, PlanStep = planStep, OptimizerSteps = steps,
                LearningRate = lr, OptimizerState = state,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"cannot read the checkpoint ({e.Message})");
        }
    }

    /// <summary>SHA-256 of the first <paramref name="bytes"/> bytes of the stream, read in 1 MiB pieces.</summary>
    private static byte[] Checksum(Stream stream, long bytes)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        stream.Position = 0;
        for (long left = bytes; left > 0;)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n <= 0) throw new EndOfStreamException();
            sha.AppendData(buffer, 0, n);
            left -= n;
        }
        return sha.GetHashAndReset();
    }

    private sealed class HashingWriter(Stream stream, IncrementalHash sha)
    {
        private readonly byte[] _scratch = new byte[8];

        public void Bytes(ReadOnlySpan<byte> b)
        {
            stream.Write(b);
            sha.AppendData(b);
        }

        public void Int32(int v) { BinaryPrimitives.WriteInt32LittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 4)); }
        public void Int64(long v) { BinaryPrimitives.WriteInt64LittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 8)); }
        public void Float(float v) { BinaryPrimitives.WriteSingleLittleEndian(_scratch, v); Bytes(_scratch.AsSpan(0, 4)); }

        public void String(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            Int32(b.Length);
            Bytes(b);
        }

        // Values are copied as raw bytes, so the format is little-endian only where the machine is; refuse otherwise.
        public void Floats(float[] v)
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are written on little-endian machines");
            Bytes(MemoryMarshal.AsBytes(v.AsSpan()));
        }
    }

    /// <summary>Reads the body [0, end) of a checkpoint stream, every length checked against what is left.</summary>
    private sealed class Reader(Stream stream, long end, string file)
    {
        private readonly byte[] _scratch = new byte[64];

        private long Left => end - stream.Position;

        public void Seek(long position) => stream.Position = position;

        /// <summary>The 32 checksum bytes after the body.</summary>
        public ReadOnlySpan<byte> Tail()
        {
            stream.Position = end;
            stream.ReadExactly(_scratch, 0, 32);
            return _scratch.AsSpan(0, 32);
        }

        /// <summary>The next n ≤ 64 bytes, valid until the next call.</summary>
        public ReadOnlySpan<byte> Take(int n)
        {
            Check(n);
            stream.ReadExactly(_scratch, 0, n);
            return _scratch.AsSpan(0, n);
        }

        private void Check(long n)
        {
            if (n < 0 || n > Left) throw new CheckpointException(file, $"malformed: a length of {n} at byte {stream.Position} runs past the end");
        }

        public int Count()
        {
            int n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            if (n < 0) throw new CheckpointException(file, $"malformed: negative count {n} at byte {stream.Position - 4}");
            return n;
        }

        public long Length() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public string String() => Encoding.UTF8.GetString(Bytes(Count()));

        public byte[] Bytes(int n)
        {
            Check(n);
            var b = new byte[n];
            stream.ReadExactly(b);
            return b;
        }

        public float[] Floats(long n)
        {
            if (n < 0 || n > Left / 4) throw new CheckpointException(file, $"malformed: {n} values at byte {stream.Position} run past the end");
            var v = new float[n];
            // In pieces: the bytes of more than 2³¹ / 4 floats do not fit one span.
            for (long at = 0; at < n; at += 1 << 28)
                stream.ReadExactly(MemoryMarshal.AsBytes(v.AsSpan((int)at, (int)Math.Min(1 << 28, n - at))));
            return v;
        }

        public void End()
        {
            if (Left != 0) throw new CheckpointException(file, $"malformed: {Left} unexpected bytes before the checksum");
        }
    }
}

/// <summary>A checkpoint file cannot be read or does not fit the model; the message is one line naming the file.</summary>
public sealed class CheckpointException(string file, string what) : Exception($"{file}: {what}")
{
    public string File { get; } = file;
}
