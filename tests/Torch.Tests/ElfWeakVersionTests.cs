using CtrDsl.Torch.Build;
using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>The GLIBCXX weak-version patch the build applies to the output copy of libLibTorchSharp.so.</summary>
public class ElfWeakVersionTests
{
    private static string OutputCopy =>
        Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).Single();

    private const string Marker = "GLIBCXX_3.4.32";

    [Fact]
    public void TheOutputCopy_IsWeakExactlyWhenTheSystemLacksTheVersion()
    {
        bool lacking = ElfWeakVersion.MissingFromSystemLibstdcxx([Marker]).Count == 1;
        // Where the system lacks it the build marked it, so patching again marks nothing; elsewhere the build left it.
        var again = ElfWeakVersion.Patch(File.ReadAllBytes(OutputCopy), [Marker]);
        Assert.Equal(lacking ? [] : [Marker], again);
    }

    [Fact]
    public void Patch_ChangesOnlyTheFlagsOfTheNamedRequirement()
    {
        var original = File.ReadAllBytes(OutputCopy);
        var bytes = (byte[])original.Clone();
        // GLIBCXX_3.4.30 is required too and never weakened by the build: marking it shows exactly what a patch writes.
        Assert.Equal(["GLIBCXX_3.4.30"], ElfWeakVersion.Patch(bytes, ["GLIBCXX_3.4.30", "NOT_A_VERSION"]));
        var changed = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != original[i]).ToArray();
        Assert.Single(changed); // one bit of one 16-bit vna_flags field
        Assert.Equal(0x2, bytes[changed[0]] ^ original[changed[0]]);
        Assert.Empty(ElfWeakVersion.Patch(bytes, ["GLIBCXX_3.4.30"]));
    }

    [Fact]
    public void Patch_RejectsAFileThatIsNotElf64()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfWeakVersion.Patch("not a library at all, just text....................................."u8.ToArray(), [Marker]));
        Assert.Equal("not an ELF file", e.Message);
    }

    // The build patches its output copy only: the package cache's copy still requires the version strictly.
    [Fact]
    public void TheNuGetCache_IsNeverPatched()
    {
        var root = typeof(ElfWeakVersionTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "NuGetPackageRoot").Value!;
        var cached = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.Equal([Marker], ElfWeakVersion.Patch(File.ReadAllBytes(cached), [Marker]));
    }
}
