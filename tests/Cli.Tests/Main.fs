/// The suite: every test of this project, run by `dotnet test` through the xUnit bridge or by
/// `dotnet run --project tests/Cli.Tests -c Release` as an Expecto program. The CLI tests share process-wide state
/// (the worker pool's thread count, the current folder), so they run one after another.
module CtrDsl.Tests.Suite

open Expecto

let name = "Cli.Tests"

let tests =
    testSequenced (
        testList
            name
            [ CtrDsl.Cli.Tests.RegistryTests.tests
              CtrDsl.Cli.Tests.CheckpointTests.tests
              CtrDsl.Cli.Tests.ConfigTests.tests
              CtrDsl.Cli.Tests.EndToEndTests.tests
              CtrDsl.Cli.Tests.OneLoopTests.tests
              CtrDsl.Cli.Tests.DistributedTests.tests
              CtrDsl.Cli.Tests.MpiTests.tests
              CtrDsl.Cli.Tests.ShardedTests.tests
              CtrDsl.Cli.Tests.PredictorTests.tests
              CtrDsl.Cli.Tests.ServeTests.tests
              CtrDsl.Cli.Tests.ToolsTests.tests
              CtrDsl.Cli.Tests.FaultSuiteData.tests
              CtrDsl.Cli.Tests.ReliabilityTests.tests
              CtrDsl.Cli.Tests.FaultSuiteRuns.tests ]
    )
