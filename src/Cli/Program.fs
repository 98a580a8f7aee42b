module CtrDsl.Cli.Program

[<EntryPoint>]
let main argv =
    printfn "ctr: the experiment runner arrives with the CLI issue"
    0
