namespace CtrDsl.OpenCl;

/// <summary>An OpenCL or CLBlast call that failed; the message names the call and the status code.</summary>
public sealed class OpenClException(string message) : Exception(message)
{
    internal static void Check(int status, string call)
    {
        if (status != Native.Success) Throw(status, call);
    }

    internal static void CheckBlast(int status, string call)
    {
        if (status != 0) throw new OpenClException($"{call} failed with CLBlast status {status}");
    }

    private static void Throw(int status, string call) => throw new OpenClException($"{call} failed with OpenCL status {status}");
}
