namespace CtrDsl.Serve;

/// <summary>A request the client must change: answered with <see cref="Status"/> and <c>{"error": Message}</c>.</summary>
public sealed class BadRequest(string message, int status = 400) : Exception(message)
{
    public int Status { get; } = status;
}
