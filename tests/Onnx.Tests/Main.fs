/// The suite: every test of this project, run by `dotnet test` through the xUnit bridge or by
/// `dotnet run --project tests/Onnx.Tests -c Release` as an Expecto program. The tests share the compute pool's
/// thread count and one prepared Adult dataset, so they run one after another.
module CtrDsl.Tests.Suite

open Expecto

let name = "Onnx.Tests"

let tests =
    testSequenced (
        testList
            name
            [ CtrDsl.Onnx.Tests.OnnxExportTests.tests
              CtrDsl.Onnx.Tests.SequenceExportTests.tests
              CtrDsl.Onnx.Tests.MultiTaskExportTests.tests
              CtrDsl.Onnx.Tests.OpTableTests.tests
              CtrDsl.Onnx.Tests.ExportCommandTests.tests ]
    )
