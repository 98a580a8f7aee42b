module CtrDsl.Cli.Tests.RegistryTests

open CtrDsl.Models.Registry
open Expecto
open CtrDsl.Testing
open CtrDsl.Cli.Tests.Support

let ``every model's effective settings configure the same model again`` () =
    for e in all do
        match e.Configure [] with
        | Error err -> failwith $"{e.Name}: {err.Message}"
        | Ok c ->
            match e.Configure c.Effective with
            | Ok again -> Expect.equal again.Effective c.Effective "again.Effective"
            | Error err -> failwith $"{e.Name}: {err.Message}"

let ``an unknown key names the key and lists the known ones`` () =
    let deepfm = (tryFind "deepfm").Value

    match deepfm.Configure [ "hidden_units", Ints [ 10 ] ] with
    | Error(UnknownKey("hidden_units", known)) -> Has.In("dnn_hidden_units", known)
    | other -> failwith $"expected an unknown-key error, got %A{other}"

let ``a bad value says what was expected`` () =
    let deepfm = (tryFind "deepfm").Value

    match deepfm.Configure [ "embedding_dim", Text "ten" ] with
    | Error(BadValue("embedding_dim", expected, Text "ten") as e) ->
        Has.In("integer", expected)
        Expect.equal e.Message ("embedding_dim: expected an integer >= 1, got \"ten\"") "e.Message"
    | other -> failwith $"expected a bad-value error, got %A{other}"

let ``the FGCNN seed configuration is expressible as settings`` () =
    let fgcnn = (tryFind "fgcnn").Value

    let settings =
        [ "embedding_dim", Int 40
          "conv_kernels", Ints [ 14; 16; 18; 20 ]
          "kernels", Ints [ 3; 3; 3; 3 ]
          "dense_layers", Ints [ 4096; 2048; 1024; 512 ]
          "h", Int 7
          "hp", Int 2 ]

    match fgcnn.Configure settings with
    | Ok c ->
        let get k = c.Effective |> List.find (fst >> (=) k) |> snd
        Expect.equal (get "h") (Ints [ 7; 7; 7; 7 ]) "get \"h\""
        Expect.equal (get "dense_layers") (Ints [ 4096; 2048; 1024; 512 ]) "get \"dense_layers\""
    | Error e -> failwith e.Message

let ``FGCNN refuses per-layer lists of different lengths`` () =
    let fgcnn = (tryFind "fgcnn").Value

    match fgcnn.Configure [ "conv_kernels", Ints [ 4; 4 ]; "kernels", Ints [ 3; 3; 3 ]; "h", Int 2; "hp", Int 2 ] with
    | Error(BadValue("kernels", _, _)) -> ()
    | other -> failwith $"expected a kernels error, got %A{other}"

let ``model names are unique lowercase keys`` () =
    Expect.equal ((List.distinct names).Length) names.Length "(List.distinct names).Length"

    for n in names do
        Expect.equal n (n.ToLowerInvariant()) "n"

let tests =
    testList
        "RegistryTests"
        [ testCase
              "every model's effective settings configure the same model again"
              ``every model's effective settings configure the same model again``
          testCase "an unknown key names the key and lists the known ones" ``an unknown key names the key and lists the known ones``
          testCase "a bad value says what was expected" ``a bad value says what was expected``
          testCase "the FGCNN seed configuration is expressible as settings" ``the FGCNN seed configuration is expressible as settings``
          testCase "FGCNN refuses per-layer lists of different lengths" ``FGCNN refuses per-layer lists of different lengths``
          testCase "model names are unique lowercase keys" ``model names are unique lowercase keys`` ]
