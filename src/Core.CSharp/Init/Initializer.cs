using CtrDsl.Tensors;

namespace CtrDsl.Init;

/// <summary>A parameter's initial values as drawn: the initializer and the seed of its named stream.</summary>
public sealed record InitialDraw(Initializer Initializer, ulong Seed)
{
    /// <summary>Fills rank <paramref name="rank"/>'s row-wise shard of the parameter <paramref name="name"/> of
    /// <paramref name="shape"/> with that parameter's initial values (<see cref="Initializer.FillShard"/>).</summary>
    public void FillShard(string name, Span<float> shard, IReadOnlyList<int> shape, int rank, int ranks) =>
        Initializer.FillShard(shard, shape, Rng.ForName(Seed, name), rank, ranks);
}

/// <summary>
/// How to fill a tensor with its initial values: a closed set of cases, each a value that can sit in a model's parameter
/// record. Fan conventions are on <see cref="Fans"/>. Draws are made in float64 and rounded to float, so a bound such as
/// b of U(a, b) is respected up to that rounding.
/// </summary>
public abstract record Initializer
{
    private Initializer() { }

    /// <summary>Fills <paramref name="x"/>, a tensor of shape <paramref name="shape"/>, drawing from <paramref name="rng"/>.</summary>
    public abstract void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng);

    /// <summary>Fills <paramref name="p"/>'s values from its own stream, <see cref="Rng.ForName"/>(seed, name), and
    /// records the draw in <see cref="Parameter.Drawn"/>.</summary>
    public void Fill(Parameter p, ulong seed)
    {
        Fill(p.Value, p.Shape, Rng.ForName(seed, p.Name));
        p.Drawn = new InitialDraw(this, seed);
    }

    /// <summary>
    /// Fills the row-wise shard of a [rows; …] tensor of <paramref name="shape"/> that rank <paramref name="rank"/> of
    /// <paramref name="ranks"/> owns (global row g = l·ranks + rank at local row l) with the values <see cref="Fill(Span{float}, IReadOnlyList{int}, Rng)"/>
    /// gives those rows in the whole tensor: every row's draws are made in order and the other ranks' rows dropped,
    /// so it holds one row beyond the shard, and takes the whole tensor's draws of time. Exact because every case
    /// draws element by element in order and reads the shape only for its fans.
    /// </summary>
    public void FillShard(Span<float> shard, IReadOnlyList<int> shape, Rng rng, int rank, int ranks)
    {
        int rows = shape[0];
        long all = 1;
        foreach (var d in shape) all *= d;
        int width = rows == 0 ? 0 : checked((int)(all / rows));
        int mine = (rows - rank + ranks - 1) / ranks;
        if (shard.Length != (long)mine * width)
            throw new ArgumentException($"init: a shard of rank {rank} of {ranks} of [{string.Join("; ", shape)}] has {mine} rows of {width}, got {shard.Length} values");
        var scratch = new float[width];
        for (int g = 0; g < rows; g++)
            Fill(g % ranks == rank ? shard.Slice(g / ranks * width, width) : scratch, shape, rng);
    }

    /// <summary>All 0.</summary>
    public sealed record Zeros : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng) => x.Clear();
    }

    /// <summary>All <see cref="Value"/>.</summary>
    public sealed record Constant(float Value) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng) => x.Fill(Value);
    }

    /// <summary>U(<see cref="Low"/>, <see cref="High"/>).</summary>
    public sealed record Uniform(float Low, float High) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            if (!(Low <= High)) throw new ArgumentException($"init: uniform needs low ≤ high, got ({Low}, {High})");
            FillUniform(x, Low, High, rng);
        }
    }

    /// <summary>N(<see cref="Mean"/>, <see cref="Std"/>²).</summary>
    public sealed record Normal(float Mean, float Std) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng) => FillNormal(x, Mean, Std, rng);
    }

    /// <summary>
    /// N(<see cref="Mean"/>, <see cref="Std"/>²) with every draw outside mean ± 2·std drawn again, as
    /// tf.keras TruncatedNormal (and torch.nn.init.trunc_normal_ with a = mean − 2std, b = mean + 2std). The result's
    /// standard deviation is ≈ 0.8796·std: the scale is not corrected, as in both libraries.
    /// </summary>
    public sealed record TruncatedNormal(float Mean, float Std) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng) => FillTruncatedNormal(x, Mean, Std, rng);
    }

    /// <summary>Glorot/Xavier uniform: U(−r, r), r = gain·√(6/(fan_in + fan_out)).</summary>
    public sealed record XavierUniform(float Gain = 1f) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            var f = Fans.Of(shape);
            double r = Gain * Math.Sqrt(6.0 / (f.In + f.Out));
            FillUniform(x, -r, r, rng);
        }
    }

    /// <summary>Glorot/Xavier normal: N(0, σ²), σ = gain·√(2/(fan_in + fan_out)).</summary>
    public sealed record XavierNormal(float Gain = 1f) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            var f = Fans.Of(shape);
            FillNormal(x, 0, Gain * Math.Sqrt(2.0 / (f.In + f.Out)), rng);
        }
    }

    /// <summary>
    /// He/Kaiming uniform, fan_in mode: U(−r, r), r = gain·√(3/fan_in). The default gain √2 is ReLU's;
    /// torch's leaky-ReLU slope a gives gain √(2/(1 + a²)).
    /// </summary>
    public sealed record KaimingUniform(float Gain = 1.41421356f) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            double r = Gain * Math.Sqrt(3.0 / Fans.Of(shape).In);
            FillUniform(x, -r, r, rng);
        }
    }

    /// <summary>He/Kaiming normal, fan_in mode: N(0, σ²), σ = gain/√fan_in (default gain √2, ReLU).</summary>
    public sealed record KaimingNormal(float Gain = 1.41421356f) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng) =>
            FillNormal(x, 0, Gain / Math.Sqrt(Fans.Of(shape).In), rng);
    }

    /// <summary>
    /// PyTorch's default nn.Linear weight: kaiming_uniform_ with a = √5, i.e. gain √(1/3), which is
    /// U(−1/√fan_in, 1/√fan_in).
    /// </summary>
    public sealed record TorchLinearWeight : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            double r = 1 / Math.Sqrt(Fans.Of(shape).In);
            FillUniform(x, -r, r, rng);
        }
    }

    /// <summary>
    /// PyTorch's default nn.Linear bias: U(−1/√fan_in, 1/√fan_in) with the fan-in of the layer's weight
    /// (<see cref="FanIn"/>), since the bias's own shape [out] does not carry it.
    /// </summary>
    public sealed record TorchLinearBias(int FanIn) : Initializer
    {
        public override void Fill(Span<float> x, IReadOnlyList<int> shape, Rng rng)
        {
            if (FanIn <= 0) throw new ArgumentException($"init: linear bias needs the weight's fan-in > 0, got {FanIn}");
            double r = 1 / Math.Sqrt(FanIn);
            FillUniform(x, -r, r, rng);
        }
    }

    /// <summary>Initialises a Linear layer (W [in; out], b [out]) as torch.nn.Linear does, each from its own named stream.</summary>
    public static void TorchLinear(Parameter weight, Parameter bias, ulong seed)
    {
        new TorchLinearWeight().Fill(weight, seed);
        new TorchLinearBias(Fans.Of(weight.Shape).In).Fill(bias, seed);
    }

    private static void FillUniform(Span<float> x, double low, double high, Rng rng)
    {
        double width = high - low;
        for (int i = 0; i < x.Length; i++) x[i] = (float)(low + width * rng.NextDouble());
    }

    private static void FillNormal(Span<float> x, double mean, double std, Rng rng)
    {
        if (!(std >= 0)) throw new ArgumentException($"init: normal needs std ≥ 0, got {std}");
        for (int i = 0; i < x.Length; i++) x[i] = (float)(mean + std * rng.NextNormal());
    }

    private static void FillTruncatedNormal(Span<float> x, double mean, double std, Rng rng)
    {
        if (!(std >= 0)) throw new ArgumentException($"init: truncated normal needs std ≥ 0, got {std}");
        for (int i = 0; i < x.Length; i++)
        {
            double z;
            // A standard normal lands inside ±2 with probability 0.954, so this loop runs ~1.05 times on average.
            do z = rng.NextNormal(); while (Math.Abs(z) > 2);
            x[i] = (float)(mean + std * z);
        }
    }
}
