using CtrDsl.Backends;
using CtrDsl.Data;
using Microsoft.FSharp.Collections;
using Xunit;
using Fs = CtrDsl.Dsl.Schema.SchemaBuilder;

namespace CtrDsl.Tests.Data;

public class SchemaBuilderTests
{
    [Fact]
    public void FSharpBuilder_BuildsTheSameSchemaAsCSharp()
    {
        var fromFs = Fs.withMinCount(2, Fs.csv(',', ListModule.OfSeq(["label"]), ListModule.OfSeq(new[]
        {
            Fs.categorical("user_id"),
            Fs.vocabulary("item", Fs.categorical("item_id")),
            Fs.vocabulary("item", Fs.sequence('|', 20, Pooling.Sum, "history")),
            Fs.defaultValue(-1f, Fs.numeric(NumericTransform.Log1p, "age")),
            Fs.bucketized(new BucketRule.Log3(), "clicks"),
            Fs.hashed(100, Fs.column("zip_code", Fs.categorical("zip"))),
        })));
        var fromCs = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(2)
            .Categorical("user_id")
            .Categorical("item_id", vocabulary: "item")
            .Sequence("history", '|', 20, Pooling.Sum, vocabulary: "item")
            .Numeric("age", NumericTransform.Log1p, -1)
            .Bucketized("clicks", new BucketRule.Log3())
            .Categorical("zip", hashBuckets: 100, column: "zip_code")
            .Build();
        Assert.Equal(fromCs.Describe(), fromFs.Describe());
    }
}
