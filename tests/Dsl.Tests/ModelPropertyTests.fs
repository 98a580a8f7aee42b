/// Every zoo model through the kit's model properties: seeds, row independence, threads, and OpenCL against the CPU.
module CtrDsl.Dsl.Tests.ModelPropertyTests

open CtrDsl.Testing

let tests =
    Expecto.Tests.testList
        "zoo properties"
        [ for name, model in Zoo.small ->
              ModelCheck.spec name model
              |> ModelCheck.count 5
              |> ModelCheck.against Backend.openCl Tolerance.backends
              |> ModelCheck.tests ]
