namespace CtrDsl.Metrics;

/// <summary>The metrics of one evaluation; <see cref="GroupAuc"/> is NaN when no groups were given.</summary>
public sealed record MetricsReport(long Count, double Auc, double LogLoss, double GroupAuc, double Calibration, double Accuracy, double Mse)
{
    /// <summary>Per task, in schema order, for a multi-task model (empty otherwise). The report's own figures are then
    /// the means over the tasks: AUC, logloss, calibration and accuracy over the BCE tasks, MSE over the MSE tasks.</summary>
    public IReadOnlyList<TaskReport> Tasks { get; init; } = [];

    public double Rmse => Math.Sqrt(Mse);

    /// <summary>The report of several tasks: each task's own, and their means as the report's figures.</summary>
    public static MetricsReport OfTasks(IReadOnlyList<TaskReport> tasks)
    {
        var bce = tasks.Where(t => !t.Regression).Select(t => t.Metrics).ToArray();
        var mse = tasks.Where(t => t.Regression).Select(t => t.Metrics).ToArray();
        static double Mean(MetricsReport[] ms, Func<MetricsReport, double> f) => ms.Length > 0 ? ms.Average(f) : double.NaN;
        return new MetricsReport(tasks.Count > 0 ? tasks[0].Metrics.Count : 0, Mean(bce, m => m.Auc), Mean(bce, m => m.LogLoss), double.NaN,
            Mean(bce, m => m.Calibration), Mean(bce, m => m.Accuracy), Mean(mse, m => m.Mse)) { Tasks = tasks };
    }

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"n={Count} auc={Auc:F5} logloss={LogLoss:F5} gauc={GroupAuc:F5} calibration={Calibration:F4} accuracy={Accuracy:F4} mse={Mse:F5}");
}

/// <summary>One task's metrics: for an MSE task (<paramref name="Regression"/>) read MSE and RMSE, not AUC or logloss.</summary>
public sealed record TaskReport(string Name, bool Regression, MetricsReport Metrics);

/// <summary>
/// Streaming accumulator over batches. Logloss, calibration, accuracy and MSE are running float64 sums (exactly the
/// one-shot functions' values); AUC and group AUC need every score, so predictions are kept (8–16 bytes a row).
/// </summary>
public sealed class BinaryMetrics
{
    private float[] _p = new float[1024], _y = new float[1024];
    private long[] _g = [];
    private bool _grouped;
    private int _n;
    private double _logLoss, _sumP, _sumY, _sq;
    private long _hits;

    /// <summary>Adds a batch of probabilities and labels, optionally with a group (user) id per row.</summary>
    public void Add(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels, ReadOnlySpan<long> groups = default)
    {
        if (probabilities.Length != labels.Length)
            throw new ArgumentException($"metrics: expected as many labels as predictions, got {labels.Length} and {probabilities.Length}");
        if (_n == 0) _grouped = !groups.IsEmpty;
        if (_grouped != !groups.IsEmpty || (_grouped && groups.Length != labels.Length))
            throw new ArgumentException("metrics: give a group id for every row of every batch, or for none");
        int need = _n + labels.Length;
        if (need > _p.Length)
        {
            int cap = Math.Max(need, _p.Length * 2);
            Array.Resize(ref _p, cap); Array.Resize(ref _y, cap);
        }
        if (_grouped && need > _g.Length) Array.Resize(ref _g, Math.Max(need, _g.Length * 2));
        probabilities.CopyTo(_p.AsSpan(_n));
        labels.CopyTo(_y.AsSpan(_n));
        if (_grouped) groups.CopyTo(_g.AsSpan(_n));
        for (int i = 0; i < labels.Length; i++)
        {
            float p = probabilities[i], y = labels[i];
            _logLoss += LogLoss.Term(p, y);
            _sumP += p; _sumY += y;
            double d = p - (double)y;
            _sq += d * d;
            if ((p >= 0.5f) == (y > 0.5f)) _hits++;
        }
        _n = need;
    }

    public void Clear()
    {
        _n = 0; _logLoss = _sumP = _sumY = _sq = 0; _hits = 0;
    }

    public MetricsReport Result()
    {
        var p = _p.AsSpan(0, _n);
        var y = _y.AsSpan(0, _n);
        return new MetricsReport(_n,
            Auc.Compute(p, y),
            _n > 0 ? _logLoss / _n : double.NaN,
            _grouped ? GroupAuc.Compute(p, y, _g.AsSpan(0, _n)) : double.NaN,
            _sumP / _sumY,
            _n > 0 ? (double)_hits / _n : double.NaN,
            _n > 0 ? _sq / _n : double.NaN);
    }
}
