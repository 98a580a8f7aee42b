/// AutoInt (Song et al., CIKM 2019): stacked multi-head self-attention over the field embeddings with residual
/// connections, then one logit; AutoInt+ adds an MLP over the embeddings. Paper: 3 layers, 2 heads, d' = 32.
module CtrDsl.Models.AutoInt

open CtrDsl.Dsl

type AutoIntParams =
    {
        Embedding: EmbedOptions
        Layers: int
        Heads: int
        HeadDim: int
        /// No hidden layers for AutoInt; the MLP of AutoInt+ otherwise.
        Mlp: MlpOptions
    }

    static member Defaults = { Embedding = EmbedOptions.dim 16; Layers = 3; Heads = 2; HeadDim = 32; Mlp = MlpOptions.hidden [] }
    static member PlusDefaults = { AutoIntParams.Defaults with Mlp.Hidden = [ 400; 400; 400 ] }

let autoint (p: AutoIntParams) =
    let e = embedWith p.Embedding
    let attention = { Heads = p.Heads; HeadDim = p.HeadDim; Residual = true }
    let interacted = List.replicate p.Layers (selfAttention attention) |> List.fold (fun x layer -> layer x) e

    let parts =
        [ yield interacted |> flatten |> denseLayer 1
          if not p.Mlp.Hidden.IsEmpty then
              yield dnnInput e |> mlpWith p.Mlp ]

    sum parts

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: AutoIntParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

/// The settings of AutoInt and AutoInt+.
let private settings =
    [ embedding.Dim
      Settings.intField "attention_layers" 1 (fun p -> p.Layers) (fun p v -> { p with Layers = v })
      Settings.intField "num_heads" 1 (fun p -> p.Heads) (fun p v -> { p with Heads = v })
      Settings.intField "attention_dim" 1 (fun p -> p.HeadDim) (fun p v -> { p with HeadDim = v })
      deep.Hidden ]

let entry =
    Settings.model
        "autoint"
        "AutoInt"
        "AutoInt (Song et al., CIKM 2019): stacked multi-head self-attention over the fields."
        AutoIntParams.Defaults
        settings
        Settings.noCheck
        autoint

let plusEntry =
    Settings.model
        "autoint+"
        "AutoInt+"
        "AutoInt+ (Song et al., CIKM 2019): AutoInt plus an MLP over the embeddings."
        AutoIntParams.PlusDefaults
        settings
        Settings.noCheck
        autoint
