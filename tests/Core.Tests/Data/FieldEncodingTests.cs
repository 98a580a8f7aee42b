using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class FieldEncodingTests
{
    private static string[] Pieces(string list, char separator)
    {
        var bytes = Encoding.UTF8.GetBytes(list);
        var pieces = new List<string>();
        foreach (var (start, length) in FieldEncoding.Pieces(bytes, separator)) pieces.Add(Encoding.UTF8.GetString(bytes, start, length));
        return pieces.ToArray();
    }

    [Fact]
    public void Pieces_SkipEmptyPiecesAnywhereInTheList()
    {
        Assert.Empty(Pieces("", '|'));
        Assert.Empty(Pieces("|||", '|'));
        Assert.Equal(["a"], Pieces("a", '|'));
        Assert.Equal(["a", "bc", "d"], Pieces("|a||bc|d|", '|'));
        Assert.Equal(["a|b", "c"], Pieces("a|b;c", ';'));
    }

    [Fact]
    public void LogToken_IsBAndTheBucketDigits_EmptyWhenMissing()
    {
        Span<byte> buffer = stackalloc byte[16];
        Assert.Equal("", Encoding.UTF8.GetString(FieldEncoding.LogToken(double.NaN, buffer)));
        Assert.Equal("b0", Encoding.UTF8.GetString(FieldEncoding.LogToken(-3, buffer)));
        Assert.Equal("b6", Encoding.UTF8.GetString(FieldEncoding.LogToken(7, buffer)));        // floor(3·ln 8) = 6
        Assert.Equal("b64", Encoding.UTF8.GetString(FieldEncoding.LogToken(2e9, buffer)));
        for (int v = 0; v < 5000; v += 7)
            Assert.Equal((int)Math.Floor(3.0 * Math.Log(1.0 + v)), FieldEncoding.LogBucket(v));
    }

    [Fact]
    public void TryNumber_ParsesIntegersAndDecimals_RefusesTheRest()
    {
        foreach (var (text, value) in new[] { ("12", 12.0), ("-7", -7.0), ("0.25", 0.25), ("1e3", 1000.0), ("-0", 0.0) })
        {
            Assert.True(FieldEncoding.TryNumber(Encoding.UTF8.GetBytes(text), out double x), text);
            Assert.Equal(value, x);
        }
        foreach (var text in new[] { "", "-", "1x", "x1", "1e999", "NaN", "12 " })
            Assert.False(FieldEncoding.TryNumber(Encoding.UTF8.GetBytes(text), out _), text);
    }

    [Fact]
    public void Transform_ClampsNegativesBeforeLog1p_AndKeepsMissing()
    {
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("y")
            .Numeric("x", NumericTransform.Log1p, defaultValue: -1f).Build();
        var e = new FieldEncoding(schema, schema.Fields[0], features: null);
        Assert.Equal(EncodingKind.Numeric, e.Kind);
        Assert.Equal(0.0, e.Transform(-5));
        Assert.Equal(Math.Log(4.0), e.Transform(3), 1e-15);
        Assert.True(double.IsNaN(e.Transform(double.NaN)));
        Assert.Equal(-1f, e.Finish(double.NaN));
        Assert.Equal((float)Math.Log(4.0), e.Dense(3));
    }
}
