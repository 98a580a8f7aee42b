// Usage: dotnet run -c Release --project bench/DataBench -- TRAIN.tsv [TEST.tsv|-] [CACHE_DIR] [THREADS] [EPOCHS] [CHUNK_KB]
//        dotnet run -c Release --project bench/DataBench -- --profile TRAIN.tsv [CHUNKS]
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: DataBench TRAIN.tsv [TEST.tsv|-] [CACHE_DIR] [THREADS] [EPOCHS] [CHUNK_KB]");
    return 2;
}
string? test = args.Length > 1 && args[1] != "-" ? args[1] : null;
string cacheDir = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "ctrdsl-databench");
int threads = args.Length > 3 ? int.Parse(args[3]) : 2;
int epochs = args.Length > 4 ? int.Parse(args[4]) : 3;
int chunkKb = args.Length > 5 ? int.Parse(args[5]) : 4096;
if (args[0] == "--profile")
{
    CtrDsl.Bench.DataBench.ProfileParse(args[1], args.Length > 2 ? int.Parse(args[2]) : 20, Console.Out);
    return 0;
}
try
{
    CtrDsl.Bench.DataBench.Run(args[0], test, cacheDir, threads, epochs, Console.Out, chunkKb << 10);
    return 0;
}
catch (CtrDsl.Data.DataFormatException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
