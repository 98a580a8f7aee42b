/// FGCNN (Liu et al., WWW 2019, "Feature Generation by Convolutional Neural Network for CTR Prediction"):
/// a CNN over the field axis generates new features (conv (h, 1) → tanh → max-pool (p, 1) → dense recombination),
/// and an IPNN classifier reads the raw plus generated fields: MLP([flatten; pairwise inner products]).
/// The generation branch has its own embedding table (as common open-source implementations do).
module CtrDsl.Models.FGCNN

open CtrDsl.Backends
open CtrDsl.Dsl

type FGCNNParams =
    { Embedding: EmbedOptions
      Conv: ConvGenerateOptions
      Mlp: MlpOptions
      SharedEmbedding: bool }

    /// The paper's generator (channels 14/16/18/20, h = 7, pool 2, 3 new maps each) with the reference's k = 10 and
    /// 400-400-400 classifier.
    static member Defaults =
        { Embedding = EmbedOptions.dim 10
          Conv = ConvGenerateOptions.paper
          Mlp = MlpOptions.hidden [ 400; 400; 400 ]
          SharedEmbedding = false }

    /// The seed document's configuration: k = 40, conv_kernels [14;16;18;20], kernels (new maps) [3;3;3;3],
    /// h = 7, hp = 2, dense layers 4096-2048-1024-512 (it trains with BCE and Ranger).
    static member SeedDocument = { FGCNNParams.Defaults with Embedding.Dim = 40; Mlp.Hidden = [ 4096; 2048; 1024; 512 ] }

/// Fields the classifier sees for `fields` raw fields: raw plus generated.
let classifierFields (p: FGCNNParams) (fields: int) = fields + List.sum (ConvGenerateOptions.generatedFields p.Conv fields)

let fgcnn (p: FGCNNParams) =
    let raw = embedWith p.Embedding
    let source = if p.SharedEmbedding then raw else named "generation" (embedWith p.Embedding)
    let all = concatFields [ raw; convGenerate p.Conv source ]
    concat [ dnnInput all; innerProduct all ] |> mlpWith p.Mlp

/// Every per-layer list has conv_kernels' length.
let private check (p: FGCNNParams) =
    let c = p.Conv
    let n = c.Channels.Length

    if c.NewMaps.Length <> n then
        Some("kernels", $"one entry per convolution layer (%d{n}, as conv_kernels)")
    elif c.KernelHeights.Length <> n then
        Some("h", $"one kernel height, or one per convolution layer (%d{n})")
    elif c.PoolSizes.Length <> n then
        Some("hp", $"one pool size, or one per convolution layer (%d{n})")
    else
        None

let private conv (f: Settings.Field<ConvGenerateOptions>) = Settings.within (fun p -> p.Conv) (fun p v -> { p with Conv = v }) f

/// h and hp take one value for every layer or a list with one per layer; the layer count is conv_kernels'.
let private perLayer
    key
    (get: ConvGenerateOptions -> int list)
    (set: ConvGenerateOptions -> int list -> ConvGenerateOptions)
    : Settings.Field<FGCNNParams> =
    { Key = key
      Set =
        fun p v ->
            match v with
            | Settings.Int i when i > 0 -> Ok { p with Conv = set p.Conv (List.replicate p.Conv.Channels.Length i) }
            | Settings.Ints l when not l.IsEmpty && List.forall (fun x -> x > 0) l -> Ok { p with Conv = set p.Conv l }
            | _ -> Error "a positive integer or a list of them"
      Get = fun p -> Settings.Ints(get p.Conv) }

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: FGCNNParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "fgcnn"
        "FGCNN"
        "FGCNN (Liu et al., WWW 2019): CNN-generated features beside the raw ones, read by an IPNN."
        FGCNNParams.Defaults
        [ embedding.Dim
          conv (Settings.intsField "conv_kernels" false (fun c -> c.Channels) (fun c v -> { c with Channels = v }))
          conv (Settings.intsField "kernels" false (fun c -> c.NewMaps) (fun c v -> { c with NewMaps = v }))
          perLayer "h" (fun c -> c.KernelHeights) (fun c v -> { c with KernelHeights = v })
          perLayer "hp" (fun c -> c.PoolSizes) (fun c v -> { c with PoolSizes = v })
          deep.HiddenAs "dense_layers"
          deep.Dropout
          Settings.boolField "share_embedding" (fun p -> p.SharedEmbedding) (fun p v -> { p with SharedEmbedding = v }) ]
        check
        fgcnn
