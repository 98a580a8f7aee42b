/// FGCNN (Liu et al., WWW 2019, "Feature Generation by Convolutional Neural Network for CTR Prediction"):
/// a CNN over the field axis generates new features (conv (h, 1) → tanh → max-pool (p, 1) → dense recombination),
/// and an IPNN classifier reads the raw plus generated fields: MLP([flatten; pairwise inner products]).
/// The generation branch has its own embedding table (as common open-source implementations do).
module CtrDsl.Models.FGCNN

open CtrDsl.Backends
open CtrDsl.Dsl

type FGCNNParams =
    { EmbeddingDim: int
      Conv: ConvGenerateOptions
      Hidden: int list
      Dropout: float32
      SharedEmbedding: bool }

    /// The paper's generator (channels 14/16/18/20, h = 7, pool 2, 3 new maps each) with the reference's k = 10 and
    /// 400-400-400 classifier.
    static member Defaults =
        { EmbeddingDim = 10; Conv = ConvGenerateOptions.paper; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f; SharedEmbedding = false }

    /// The seed document's configuration: k = 40, conv_kernels [14;16;18;20], kernels (new maps) [3;3;3;3],
    /// h = 7, hp = 2, dense layers 4096-2048-1024-512 (it trains with BCE and Ranger).
    static member SeedDocument =
        { FGCNNParams.Defaults with EmbeddingDim = 40; Hidden = [ 4096; 2048; 1024; 512 ] }

/// Fields the classifier sees for `fields` raw fields: raw plus generated.
let classifierFields (p: FGCNNParams) (fields: int) =
    fields + List.sum (ConvGenerateOptions.generatedFields p.Conv fields)

let fgcnn (p: FGCNNParams) =
    let raw = embed p.EmbeddingDim
    let source = if p.SharedEmbedding then raw else named "generation" (embed p.EmbeddingDim)
    let all = concatFields [ raw; convGenerate p.Conv source ]
    concat [ dnnInput all; innerProduct all ]
    |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout }
