using Xunit;

namespace CtrDsl.Tests.Support;

/// <summary>
/// Tests that read process-wide counters (allocated bytes) or time things run in this collection, alone,
/// after the parallel ones: other tests' allocations would otherwise be counted.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Serial
{
    public const string Name = "serial";
}
