module CtrDsl.Onnx.Tests.Program

[<EntryPoint>]
let main argv = CtrDsl.Testing.Runner.main CtrDsl.Tests.Suite.name argv CtrDsl.Tests.Suite.tests
