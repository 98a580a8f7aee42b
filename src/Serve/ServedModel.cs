using CtrDsl.Data;
using CtrDsl.Serving;

namespace CtrDsl.Serve;

/// <summary>
/// One loaded checkpoint as the server sees it: a factory of predictors over its graph (each with a batch plan of the
/// given number of rows), its features, and what <c>GET /metadata</c> reports. The CLI makes one from a run folder;
/// <see cref="ServeHost"/> calls its loader again on a reload.
/// </summary>
/// <param name="Model">The model's name, as <c>ctr models</c> lists it.</param>
/// <param name="Checkpoint">The checkpoint file, watched for a reload; null when there is no file to watch.</param>
/// <param name="Features">The features the model was trained on: the schema and the encoding of raw values.</param>
/// <param name="Create">A predictor with a batch plan of the given rows; the predictors share the parameters.</param>
/// <param name="Metadata">More facts for <c>GET /metadata</c> (e.g. the checkpoint's epoch and metrics), by name.</param>
public sealed record ServedModel(
    string Model,
    string? Checkpoint,
    FeatureSpace Features,
    Func<int, Predictor> Create,
    IReadOnlyDictionary<string, string> Metadata)
{
    public Schema Schema => Features.Schema;
}
