/// AutoInt (Song et al., CIKM 2019): stacked multi-head self-attention over the field embeddings with residual
/// connections, then one logit; AutoInt+ adds an MLP over the embeddings. Paper: 3 layers, 2 heads, d' = 32.
module CtrDsl.Models.AutoInt

open CtrDsl.Dsl

type AutoIntParams =
    { EmbeddingDim: int
      Layers: int
      Heads: int
      HeadDim: int
      /// Empty for AutoInt; the MLP of AutoInt+ otherwise.
      Hidden: int list }

    static member Defaults = { EmbeddingDim = 16; Layers = 3; Heads = 2; HeadDim = 32; Hidden = [] }
    static member PlusDefaults = { AutoIntParams.Defaults with Hidden = [ 400; 400; 400 ] }

let autoint (p: AutoIntParams) =
    let e = embed p.EmbeddingDim
    let attention = { Heads = p.Heads; HeadDim = p.HeadDim; Residual = true }
    let interacted = List.replicate p.Layers (selfAttention attention) |> List.fold (fun x layer -> layer x) e
    let parts =
        [ yield interacted |> flatten |> denseLayer 1
          if not p.Hidden.IsEmpty then yield dnnInput e |> mlp p.Hidden ]
    sum parts
