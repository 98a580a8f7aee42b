/// Wide & Deep (Cheng et al., DLRS 2016): a wide linear model over the raw ids plus optional cross-product features
/// (e.g. AND(gender, language)), jointly trained with an MLP over the embeddings of the raw fields.
/// The paper trains the wide part with FTRL and the deep part with AdaGrad; the PyTorch reference uses Adam for both.
module CtrDsl.Models.WideDeep

open System
open CtrDsl.Dsl

type WideDeepParams =
    {
        Embedding: EmbedOptions
        Mlp: MlpOptions
        /// Cross-product features for the wide part, e.g. [ [ "gender"; "language" ] ] for AND(gender, language).
        Crosses: string list list
        /// Rows of the crossed-feature weight table (the crossed ids are hashed into it).
        CrossBuckets: int
        L2Wide: float32
    }

    /// The paper used 1024-512-256 on app data; 400-400-400 with k = 10 matches the reference benchmark.
    static member Defaults =
        { Embedding = EmbedOptions.dim 10
          Mlp = MlpOptions.hidden [ 400; 400; 400 ]
          Crosses = []
          CrossBuckets = 100_000
          L2Wide = 0.0f }

let wideDeep (p: WideDeepParams) =
    let wide = named "wide" (linearWith p.L2Wide)
    let crosses = if p.Crosses.IsEmpty then [] else [ crossProduct p.Crosses p.CrossBuckets ]
    let e = embedWith p.Embedding
    sum ([ wide ] @ crosses @ [ dnnInput e |> mlpWith p.Mlp |> named "deep" ])

/// crosses: groups of field names as text, "gender&language, age&occupation".
let private crosses: Settings.Field<WideDeepParams> =
    let parse (text: string) =
        text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
        |> Array.map (fun g -> g.Split('&', StringSplitOptions.TrimEntries) |> Array.toList)
        |> Array.toList

    { Key = "crosses"
      Set =
        fun p v ->
            match v with
            | Settings.Text t when parse t |> List.forall (fun g -> g.Length >= 2 && g |> List.forall (fun f -> f <> "")) ->
                Ok { p with Crosses = parse t }
            | _ -> Error "crossed field groups as text, e.g. \"gender&language, age&occupation\""
      Get = fun p -> Settings.Text(p.Crosses |> List.map (String.concat "&") |> String.concat ", ") }

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: WideDeepParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "widedeep"
        "WideDeep"
        "Wide & Deep (Cheng et al., DLRS 2016): a wide linear part jointly trained with an MLP."
        WideDeepParams.Defaults
        [ embedding.Dim
          deep.Hidden
          deep.Dropout
          crosses
          Settings.intField "cross_buckets" 1 (fun p -> p.CrossBuckets) (fun p v -> { p with CrossBuckets = v })
          Settings.l2 "wide_regularizer" (fun p -> p.L2Wide) (fun p v -> { p with L2Wide = v })
          embedding.L2 "embedding_regularizer" ]
        Settings.noCheck
        wideDeep
