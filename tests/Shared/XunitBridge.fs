/// <summary>
/// Shows each Expecto test of the project's suite (<c>CtrDsl.Tests.Suite.tests</c>) to xUnit as one theory case, so
/// <c>dotnet test</c>, its trx counts and IDEs see every test. Pending or skipped Expecto tests are skipped cases with
/// the reason. Linked into each Expecto test project after its Suite file.
/// </summary>
namespace CtrDsl.Tests

open Xunit
open CtrDsl.Testing

type ExpectoBridge() =
    /// One row per Expecto test, by full name.
    static member Tests: TheoryData<string> =
        let data = TheoryData<string>()

        for name in Runner.names Suite.tests do
            data.Add name

        data

    [<SkippableTheory>]
    [<MemberData(nameof ExpectoBridge.Tests)>]
    member _.expecto(name: string) =
        match Runner.runOne Suite.tests name with
        | Passed -> ()
        | Skipped why -> Skip.If(true, why)
