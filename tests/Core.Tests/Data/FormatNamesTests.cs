using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class FormatNamesTests
{
    [Fact]
    public void Names_PrintAndParseBackToTheSameFormat()
    {
        Assert.Equal("criteo | csv | tsv | libfm | libsvm", FormatNames.Usage);
        Assert.Equal(Enum.GetValues<FormatName>().Length, FormatNames.All.Count);
        foreach (var f in FormatNames.All)
        {
            Assert.True(FormatNames.TryParse(FormatNames.Print(f), out var back));
            Assert.Equal(f, back);
            Assert.Equal(f, FormatNames.Of(FormatNames.Default(f)));
        }
    }

    [Fact]
    public void Parse_RefusesOtherSpellingsNamingTheChoices()
    {
        Assert.False(FormatNames.TryParse("LibFM", out _));
        Assert.False(FormatNames.TryParse(null, out _));
        var e = Assert.Throws<ArgumentException>(() => FormatNames.Parse("avazu"));
        Assert.StartsWith("format: expected criteo | csv | tsv | libfm | libsvm, got \"avazu\"", e.Message);
    }

    [Fact]
    public void Of_NamesDelimitedFormatsByDelimiterAndCriteoByItsLayout()
    {
        Assert.Equal(FormatName.Csv, FormatNames.Of(new SourceFormat.Delimited(';', Header: false, Columns: ["a"], Quoting: false)));
        Assert.Equal(FormatName.Tsv, FormatNames.Of(new SourceFormat.Delimited('\t', Header: false, Columns: ["a"], Quoting: false)));
        Assert.Equal(FormatName.Criteo, FormatNames.Of(new SourceFormat.Delimited('\t', false, SourceFormat.CriteoColumns(), Quoting: false)));
    }
}
