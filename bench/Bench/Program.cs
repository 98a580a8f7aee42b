using CtrDsl.Bench;

// Usage: dotnet run -c Release --project bench/Bench -- gemm [--threads 1,2] [--json] [--seconds 0.6]
//        dotnet run -c Release --project bench/Bench -- mlp [steps]
//        dotnet run -c Release --project bench/Bench -- scatter [steps]
//        dotnet run -c Release --project bench/Bench -- adam [steps] [vocabulary] [threads]
//        dotnet run -c Release --project bench/Bench -- scatter-split steps batch...
if (args.Length > 0 && args[0] == "mlp")
{
    // One training step of DeepFM's deep part (390 → 400-400-400 → 1) at batch 4096: GFLOP/s and bytes allocated.
    MlpBench.Run(Console.Out, steps: args.Length > 1 ? int.Parse(args[1]) : 20);
    return 0;
}
if (args.Length > 0 && args[0] == "scatter")
{
    // The embedding backward alone on DeepFM-shaped ids: ns per lookup for the dim-1 and dim-10 tables.
    ScatterBench.Run(Console.Out, steps: args.Length > 1 ? int.Parse(args[1]) : 200);
    return 0;
}
if (args.Length > 0 && args[0] == "adam")
{
    // Lazy Adam on the dim-1 and dim-10 tables alone, in row order (through the row → slot map) against slot order.
    if (args.Length > 3) CtrDsl.Cpu.WorkerPool.ThreadCount = int.Parse(args[3]);
    AdamBench.Run(Console.Out, steps: args.Length > 1 ? int.Parse(args[1]) : 200,
                  vocabulary: args.Length > 2 ? int.Parse(args[2]) : 1855);
    return 0;
}
if (args.Length > 2 && args[0] == "scatter-split")
{
    // The scatter in one row range against split, per batch: where SparseRowAccumulator.PartedMinLookups belongs.
    ScatterBench.RunSplit(Console.Out, int.Parse(args[1]), [.. args.Skip(2).Select(int.Parse)]);
    return 0;
}
if (args.Length == 0 || args[0] != "gemm")
{
    Console.Error.WriteLine("usage: Bench gemm [--threads 1,2] [--json] [--seconds S] | Bench mlp [steps] | Bench scatter [steps] | Bench scatter-split steps batch... | Bench adam [steps] [vocabulary] [threads]");
    return 2;
}
int[] threads = [1, Environment.ProcessorCount];
bool json = false;
double seconds = 0.6;
for (int i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--threads" when i + 1 < args.Length:
            threads = args[++i].Split(',').Select(int.Parse).ToArray();
            break;
        case "--json":
            json = true;
            break;
        case "--seconds" when i + 1 < args.Length:
            seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"Bench gemm: unknown argument {args[i]}");
            return 2;
    }
}
foreach (var t in threads.Distinct())
{
    GemmBench.Run(Console.Out, t, json, seconds);
    if (!json) Console.WriteLine();
}
return 0;
