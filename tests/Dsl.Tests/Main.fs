/// The suite: every test of this project, run by `dotnet test` through the xUnit bridge or by
/// `dotnet run --project tests/Dsl.Tests -c Release` as an Expecto program.
module CtrDsl.Tests.Suite

open Expecto

let name = "Dsl.Tests"

let tests =
    testList
        name
        [ CtrDsl.Dsl.Tests.CombinatorTests.tests
          CtrDsl.Dsl.Tests.ModelTests.tests
          CtrDsl.Dsl.Tests.SequenceTests.tests
          CtrDsl.Dsl.Tests.SequenceTests.poolingTests
          CtrDsl.Dsl.Tests.RecurrentTests.tests
          CtrDsl.Dsl.Tests.SequenceTests.dienTests
          CtrDsl.Dsl.Tests.SequenceTests.bstTests
          CtrDsl.Dsl.Tests.LayerMathTests.tests
          CtrDsl.Dsl.Tests.ModelPropertyTests.tests
          CtrDsl.Dsl.Tests.KitTests.tests
          CtrDsl.Dsl.Tests.ServingTests.tests
          CtrDsl.Dsl.Tests.MultiTaskTests.tests ]
