using CtrDsl.Backends;
using CtrDsl.Data;
using Xunit;
using Yaml = CtrDsl.Dsl.Schema.SchemaYaml;

namespace CtrDsl.Tests.Data;

public class SchemaYamlTests
{
    private static string Examples => Path.Combine(SharedData.RepoRoot(), "examples", "schemas");

    private static CtrDsl.Dsl.ConfigException Fails(string yaml) =>
        Assert.Throws<CtrDsl.Dsl.ConfigException>(() => Yaml.parse("s.yaml", yaml));

    [Fact]
    public void Yaml_BuildsTheSameSchemaAsCSharp()
    {
        var yaml = """
            format: csv
            delimiter: ";"
            labels: [click]
            min_count: 3
            missing: as_value
            fields:
              - name: item
                kind: categorical
                vocabulary: items
              - name: history
                kind: sequence
                vocabulary: items
                separator: "|"
                max_length: 5
                pooling: sum
              - names: [age, income]
                kind: numeric
                transform: log1p_standardize
                default: -1
              - name: hour
                kind: bucketized
                buckets: {fixed: [6, 12, 18]}
              - name: city
                kind: categorical
                hash_buckets: 1000
                min_count: 1
            """;
        var fromCs = new SchemaBuilder(new SourceFormat.Delimited(';', true)).Label("click").MinCount(3).Missing(MissingPolicy.AsValue)
            .Categorical("item", vocabulary: "items")
            .Sequence("history", '|', 5, Pooling.Sum, vocabulary: "items")
            .Numeric("age", NumericTransform.Log1pStandardize, -1).Numeric("income", NumericTransform.Log1pStandardize, -1)
            .Bucketized("hour", new BucketRule.Fixed([6, 12, 18]))
            .Categorical("city", hashBuckets: 1000, minCount: 1)
            .Build();
        Assert.Equal(fromCs.Describe(), Yaml.parse("s.yaml", yaml).Describe());
    }

    [Fact]
    public void SyntheticCriteoSchema_IsTheReferencePreprocessing() =>
        Assert.Equal(Schema.CriteoReference(5).Hash, Yaml.load(Path.Combine(Examples, "criteo_synthetic.yaml")).Hash);

    [Fact]
    public void HashedSyntheticCriteoSchema_HashesEveryCategoricalField_AndKeepsTheDenseOnes()
    {
        var reference = Schema.CriteoReference(5);
        var hashed = Yaml.load(Path.Combine(Examples, "criteo_synthetic_hashed.yaml"));
        Assert.Equal(reference.Fields.Select(f => (f.Name, f.Column, f.Kind)), hashed.Fields.Select(f => (f.Name, f.Column, f.Kind)));
        Assert.Equal(reference.Fields.Where(f => f.Kind != FieldKind.Categorical).Select(f => f.Describe()),
            hashed.Fields.Where(f => f.Kind != FieldKind.Categorical).Select(f => f.Describe()));
        var categorical = hashed.Fields.Where(f => f.Kind == FieldKind.Categorical).ToArray();
        Assert.Equal(26, categorical.Length);
        Assert.All(categorical, f => Assert.True(f.HashBuckets > 0, f.Name));
        Assert.Equal(75_154, categorical.Sum(f => f.HashBuckets));   // near the 72,030 ids of the 1M-row min-count vocabularies
    }

    [Fact]
    public void EveryExampleSchema_Loads()
    {
        var files = Directory.GetFiles(Examples, "*.yaml");
        Assert.True(files.Length >= 10);
        foreach (var f in files) Assert.NotEmpty(Yaml.load(f).Fields);
    }

    [Fact]
    public void UnknownKey_NamesFileLineColumnAndListsTheKnownKeys()
    {
        var e = Fails("format: csv\nlabel: y\nfields:\n  - name: a\n    kind: categorical\n    min_cout: 3\n");
        Assert.Equal("s.yaml:6:5 min_cout: unknown key in a field; known keys: name, names, kind, column, vocabulary, min_count, missing, hash_buckets, transform, default, buckets, separator, max_length, pooling, history", e.Message);
        Assert.Equal((6, 5), (e.Pos.Line, e.Pos.Column));
        Assert.StartsWith("s.yaml:1:1 formt: unknown key in the schema; known keys: format,", Fails("formt: csv\n").Message);
    }

    [Fact]
    public void BadValues_AreOneLineErrorsWithTheKey()
    {
        Assert.Equal("s.yaml:1:9 format: expected one of criteo | csv | tsv | libfm | libsvm, got \"parquet\"",
            Fails("format: parquet\nlabel: y\nfields: []\n").Message);
        Assert.Equal("s.yaml:5:17 max_length: expected an integer >= 1, got \"many\"",
            Fails("format: csv\nlabel: y\nfields:\n  - {name: g, kind: sequence,\n    max_length: many}\n").Message);
        Assert.Equal("s.yaml:4:45 transform: does not apply to a categorical field",
            Fails("format: csv\nlabel: y\nfields:\n  - {name: a, kind: categorical, transform: log1p}\n").Message);
        Assert.Contains("labels: missing; expected the label column(s)", Fails("format: csv\nfields:\n  - {name: a, kind: categorical}\n").Message);
        Assert.Contains("s.yaml:4:3 fields: field a is declared twice", Fails("format: csv\nlabel: y\nfields:\n  - {name: a, kind: categorical}\n  - {name: a, kind: numeric}\n").Message);
        Assert.StartsWith("s.yaml:3:1 While parsing a flow sequence", Fails("format: csv\nlabel: [y\n").Message);
    }
}
