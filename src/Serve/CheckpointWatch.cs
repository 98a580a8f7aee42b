namespace CtrDsl.Serve;

/// <summary>
/// Calls <c>reload</c> once a checkpoint file has been replaced and left alone for <see cref="Quiet"/>: a trainer
/// writes it beside the target and renames it over (or rewrites it in place), which raises several events; the
/// quiet period folds them into one reload, after the file is whole.
/// </summary>
internal sealed class CheckpointWatch : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private readonly FileSystemWatcher _watcher;
    private readonly Timer _timer;

    public CheckpointWatch(string file, Func<Task> reload)
    {
        var full = Path.GetFullPath(file);
        _timer = new Timer(_ => reload(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        FileSystemEventHandler changed = (_, _) => _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
        _watcher.Changed += changed;
        _watcher.Created += changed;
        _watcher.Renamed += (_, _) => _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
        _watcher.EnableRaisingEvents = true;
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _timer.Dispose();
    }
}
