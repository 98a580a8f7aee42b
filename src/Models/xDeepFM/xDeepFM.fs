/// xDeepFM (Lian et al., KDD 2018): linear + CIN (explicit vector-wise interactions of bounded degree) + MLP.
/// CIN layer sizes 200-200-200 in the paper's Criteo setting; no split-half and no activation (the paper's form).
module CtrDsl.Models.xDeepFM

open CtrDsl.Dsl

type xDeepFMParams =
    { Embedding: EmbedOptions
      CinSizes: int list
      Mlp: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10; CinSizes = [ 200; 200; 200 ]; Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

let xdeepfm (p: xDeepFMParams) =
    let e = embedWith p.Embedding
    let deep = if p.Mlp.Hidden.IsEmpty then [] else [ dnnInput e |> mlpWith p.Mlp ]
    sum ([ linear; cin p.CinSizes e |> weightedSum ] @ deep)

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: xDeepFMParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "xdeepfm"
        "xDeepFM"
        "xDeepFM (Lian et al., KDD 2018): linear + compressed interaction network + MLP."
        xDeepFMParams.Defaults
        [ embedding.Dim
          Settings.intsField "cin_hidden_units" false (fun p -> p.CinSizes) (fun p v -> { p with CinSizes = v })
          deep.Hidden
          deep.Dropout ]
        Settings.noCheck
        xdeepfm
