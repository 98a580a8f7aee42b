using FsCheck;
using FsCheck.Fluent;
using Xunit;
namespace CtrDsl.Tests;
public class SmokeTests
{
    [Fact]
    public void AdditionCommutes() =>
        Prop.ForAll<int, int>((a, b) => a + b == b + a).QuickCheckThrowOnFailure();
}
