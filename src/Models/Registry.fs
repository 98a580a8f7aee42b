/// The model zoo as an explicit list: each entry names a model, cites its paper, and maps typed settings onto the
/// model's parameter record, starting from its `Defaults`. Keys follow FuxiCTR where they mean the same thing
/// (embedding_dim, dnn_hidden_units, net_dropout, batch_norm, embedding_regularizer); model-specific keys keep the
/// reference implementation's spelling. Settings never hold code: a value is an int, a float, a bool, a string or
/// a list of ints. A model's effective settings can be written back and read again (a checkpoint rebuilds the model
/// from them).
module CtrDsl.Models.Registry

open System
open System.Globalization
open CtrDsl.Dsl
open CtrDsl.Models.LR
open CtrDsl.Models.FM
open CtrDsl.Models.DNN
open CtrDsl.Models.DeepFM
open CtrDsl.Models.WideDeep
open CtrDsl.Models.DeepFEFM
open CtrDsl.Models.FGCNN
open CtrDsl.Models.IPNN
open CtrDsl.Models.NFM
open CtrDsl.Models.FwFM
open CtrDsl.Models.FFM
open CtrDsl.Models.FEFM
open CtrDsl.Models.OPNN
open CtrDsl.Models.AFM
open CtrDsl.Models.DCN
open CtrDsl.Models.DCNv2
open CtrDsl.Models.xDeepFM
open CtrDsl.Models.AutoInt
open CtrDsl.Models.FiBiNET

/// One setting's value, as YAML or a flag gives it.
type SettingValue =
    | Int of int
    | Float of float
    | Bool of bool
    | Text of string
    | Ints of int list

module SettingValue =
    /// The value as YAML flow text: `10`, `0.001`, `true`, `"adam"`, `[400, 400]`.
    let show (v: SettingValue) =
        match v with
        | Int i -> string i
        | Float f -> f.ToString("R", CultureInfo.InvariantCulture)
        | Bool b -> if b then "true" else "false"
        | Text s -> $"\"%s{s}\""
        | Ints l -> "[" + String.Join(", ", l) + "]"

/// Why a setting was refused. The CLI adds the file position of the key.
type SettingError =
    | UnknownKey of key: string * known: string list
    | BadValue of key: string * expected: string * got: SettingValue

    member e.Message =
        match e with
        | UnknownKey(k, known) -> $"""%s{k}: unknown; known keys: %s{String.Join(", ", known)}"""
        | BadValue(k, expected, got) -> $"%s{k}: expected %s{expected}, got %s{SettingValue.show got}"

/// A model configured from settings: its declaration and every setting's effective value (defaults included).
type Configured = { Expr: Expr; Effective: (string * SettingValue) list }

type ModelEntry =
    { /// Lowercase key: "deepfm".
      Name: string
      /// The paper's spelling: "DeepFM".
      DisplayName: string
      /// One line citing the paper.
      Summary: string
      /// The settings the model accepts, in the order they are written back.
      Keys: string list
      /// Applies settings over the defaults; the first refused setting is the error.
      Configure: (string * SettingValue) list -> Result<Configured, SettingError> }

/// One setting of a parameter record 'P: its key, how a value updates the record, and how to read it back.
type private Field<'P> =
    { Key: string
      Set: 'P -> SettingValue -> Result<'P, string>
      Get: 'P -> SettingValue }

let private intField key lo (get: 'P -> int) (set: 'P -> int -> 'P) =
    { Key = key
      Set = fun p v -> match v with Int i when i >= lo -> Ok(set p i) | _ -> Error $"an integer >= %d{lo}"
      Get = get >> Int }

let private floatField key lo hi (get: 'P -> float32) (set: 'P -> float32 -> 'P) =
    let ok f = f >= lo && f <= hi
    { Key = key
      Set =
        fun p v ->
            match v with
            | Float f when ok f -> Ok(set p (float32 f))
            | Int i when ok (float i) -> Ok(set p (float32 i))
            | _ -> Error $"a number in [%g{lo}, %g{hi}]"
      // Through the shortest round-trip text, so 0.001f is written back as 0.001, not 0.0010000000474974513.
      Get = fun p -> Float(Double.Parse((get p).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)) }

let private boolField key (get: 'P -> bool) (set: 'P -> bool -> 'P) =
    { Key = key
      Set = fun p v -> match v with Bool b -> Ok(set p b) | _ -> Error "true or false"
      Get = get >> Bool }

/// A list of positive integers; `allowEmpty` for hidden layers (an empty MLP is a valid ablation).
let private intsField key allowEmpty (get: 'P -> int list) (set: 'P -> int list -> 'P) =
    let what = if allowEmpty then "a list of positive integers" else "a non-empty list of positive integers"
    { Key = key
      Set =
        fun p v ->
            match v with
            | Ints l when List.forall (fun x -> x > 0) l && (allowEmpty || not l.IsEmpty) -> Ok(set p l)
            | Int i when i > 0 -> Ok(set p [ i ])
            | _ -> Error what
      Get = get >> Ints }

let private model name display summary (defaults: 'P) (fields: Field<'P> list) (check: 'P -> (string * string) option) (declare: 'P -> Expr) =
    let keys = fields |> List.map (fun f -> f.Key)
    let configure (settings: (string * SettingValue) list) =
        let folder (acc: Result<'P, SettingError>) (key: string, value: SettingValue) =
            acc
            |> Result.bind (fun p ->
                match fields |> List.tryFind (fun f -> f.Key = key) with
                | None -> Error(UnknownKey(key, keys))
                | Some f -> f.Set p value |> Result.mapError (fun expected -> BadValue(key, expected, value)))
        settings
        |> List.fold folder (Ok defaults)
        |> Result.bind (fun p ->
            match check p with
            | Some(key, problem) -> Error(BadValue(key, problem, (fields |> List.find (fun f -> f.Key = key)).Get p))
            | None -> Ok { Expr = declare p; Effective = [ for f in fields -> f.Key, f.Get p ] })
    { Name = name; DisplayName = display; Summary = summary; Keys = keys; Configure = configure }

let private noCheck (_: 'P) : (string * string) option = None

// The shared FuxiCTR keys, one helper each so every model spells them the same way.
let private embeddingDim get set = intField "embedding_dim" 1 get set
let private hiddenUnits get set = intsField "dnn_hidden_units" true get set
let private dropout get set = floatField "net_dropout" 0.0 0.99 get set
let private l2 key get set = floatField key 0.0 1e3 get set

let private fgcnnCheck (p: FGCNNParams) =
    let c = p.Conv
    let n = c.Channels.Length
    if c.NewMaps.Length <> n then Some("kernels", $"one entry per convolution layer (%d{n}, as conv_kernels)")
    elif c.KernelHeights.Length <> n then Some("h", $"one kernel height, or one per convolution layer (%d{n})")
    elif c.PoolSizes.Length <> n then Some("hp", $"one pool size, or one per convolution layer (%d{n})")
    else None

/// h and hp take one value for every layer or a list with one per layer; the layer count is conv_kernels'.
let private perLayer key (get: ConvGenerateOptions -> int list) (set: ConvGenerateOptions -> int list -> ConvGenerateOptions) =
    { Key = key
      Set =
        fun (p: FGCNNParams) v ->
            match v with
            | Int i when i > 0 -> Ok { p with Conv = set p.Conv (List.replicate p.Conv.Channels.Length i) }
            | Ints l when not l.IsEmpty && List.forall (fun x -> x > 0) l -> Ok { p with Conv = set p.Conv l }
            | _ -> Error "a positive integer or a list of them"
      Get = fun p -> Ints(get p.Conv) }

// Settings shared by two zoo entries over one parameter record (DCN and DCNv2, AutoInt and AutoInt+).
let private dcnFields: Field<DCNParams> list =
    [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
      intField "num_cross_layers" 1 (fun p -> p.CrossLayers) (fun p v -> { p with CrossLayers = v })
      hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
      dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]

let private autoIntFields: Field<AutoIntParams> list =
    [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
      intField "attention_layers" 1 (fun p -> p.Layers) (fun p v -> { p with Layers = v })
      intField "num_heads" 1 (fun p -> p.Heads) (fun p v -> { p with Heads = v })
      intField "attention_dim" 1 (fun p -> p.HeadDim) (fun p v -> { p with HeadDim = v })
      hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v }) ]

/// Every model, in the order `ctr models` lists them.
let all: ModelEntry list =
    [ model "lr" "LR" "Logistic regression over one-hot ids and numeric fields (the baseline of every CTR table)."
          LRParams.Defaults
          [ l2 "embedding_regularizer" (fun p -> p.L2) (fun p v -> { p with L2 = v }) ]
          noCheck lr
      model "fm" "FM" "Factorization Machines (Rendle, ICDM 2010): linear + pairwise inner products of embeddings."
          FMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            l2 "embedding_regularizer" (fun p -> p.L2Embedding) (fun p v -> { p with L2Embedding = v })
            l2 "linear_regularizer" (fun p -> p.L2Linear) (fun p v -> { p with L2Linear = v }) ]
          noCheck fm
      model "dnn" "DNN" "A plain MLP over the concatenated embeddings (the DNN baseline of DeepCTR and FuxiCTR)."
          DNNParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]
          noCheck dnn
      model "deepfm" "DeepFM" "DeepFM (Guo et al., IJCAI 2017): linear + FM + MLP over one shared embedding table."
          DeepFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v })
            boolField "batch_norm" (fun p -> p.BatchNorm) (fun p v -> { p with BatchNorm = v })
            l2 "embedding_regularizer" (fun p -> p.L2Embedding) (fun p v -> { p with L2Embedding = v })
            l2 "net_regularizer" (fun p -> p.L2Dnn) (fun p v -> { p with L2Dnn = v }) ]
          noCheck deepFM
      model "widedeep" "WideDeep" "Wide & Deep (Cheng et al., DLRS 2016): a wide linear part jointly trained with an MLP."
          WideDeepParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v })
            { Key = "crosses"
              Set =
                fun p v ->
                    let parse (text: string) =
                        text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
                        |> Array.map (fun g -> g.Split('&', StringSplitOptions.TrimEntries) |> Array.toList)
                        |> Array.toList
                    match v with
                    | Text t when parse t |> List.forall (fun g -> g.Length >= 2 && g |> List.forall (fun f -> f <> "")) ->
                        Ok { p with Crosses = parse t }
                    | _ -> Error "crossed field groups as text, e.g. \"gender&language, age&occupation\""
              Get = fun p -> Text(p.Crosses |> List.map (String.concat "&") |> String.concat ", ") }
            intField "cross_buckets" 1 (fun p -> p.CrossBuckets) (fun p v -> { p with CrossBuckets = v })
            l2 "wide_regularizer" (fun p -> p.L2Wide) (fun p v -> { p with L2Wide = v })
            l2 "embedding_regularizer" (fun p -> p.L2Embedding) (fun p v -> { p with L2Embedding = v }) ]
          noCheck wideDeep
      model "deepfefm" "DeepFEFM" "DeepFEFM (Pande, 2020): field-embedded FM pair values fed to an MLP beside the embeddings."
          DeepFEFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v })
            boolField "use_fefm" (fun p -> p.UseFefm) (fun p v -> { p with UseFefm = v })
            boolField "use_linear" (fun p -> p.UseLinear) (fun p v -> { p with UseLinear = v })
            boolField "use_fefm_embed_in_dnn" (fun p -> p.UseFefmEmbedInDnn) (fun p v -> { p with UseFefmEmbedInDnn = v })
            boolField "exclude_feature_embed_in_dnn" (fun p -> p.ExcludeFeatureEmbedInDnn) (fun p v -> { p with ExcludeFeatureEmbedInDnn = v })
            l2 "l2_reg_embedding_feat" (fun p -> p.L2FeatureEmbedding) (fun p v -> { p with L2FeatureEmbedding = v })
            l2 "l2_reg_embedding_field" (fun p -> p.L2FieldEmbedding) (fun p v -> { p with L2FieldEmbedding = v })
            l2 "l2_reg_linear" (fun p -> p.L2Linear) (fun p v -> { p with L2Linear = v })
            l2 "l2_reg_dnn" (fun p -> p.L2Dnn) (fun p v -> { p with L2Dnn = v }) ]
          (fun p ->
              if not p.UseFefm && not p.UseLinear && p.Hidden.IsEmpty then
                  Some("use_fefm", "at least one part switched on (use_fefm, use_linear or dnn_hidden_units)")
              else None)
          deepFEFM
      model "fgcnn" "FGCNN" "FGCNN (Liu et al., WWW 2019): CNN-generated features beside the raw ones, read by an IPNN."
          FGCNNParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            intsField "conv_kernels" false (fun p -> p.Conv.Channels) (fun p v -> { p with Conv = { p.Conv with Channels = v } })
            intsField "kernels" false (fun p -> p.Conv.NewMaps) (fun p v -> { p with Conv = { p.Conv with NewMaps = v } })
            perLayer "h" (fun c -> c.KernelHeights) (fun c v -> { c with KernelHeights = v })
            perLayer "hp" (fun c -> c.PoolSizes) (fun c v -> { c with PoolSizes = v })
            intsField "dense_layers" true (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v })
            boolField "share_embedding" (fun p -> p.SharedEmbedding) (fun p v -> { p with SharedEmbedding = v }) ]
          fgcnnCheck fgcnn
      model "ipnn" "IPNN" "IPNN (Qu et al., ICDM 2016): an MLP over the embeddings and their pairwise inner products."
          IPNNParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]
          noCheck ipnn
      model "nfm" "NFM" "NFM (He & Chua, SIGIR 2017): linear + MLP over bi-interaction pooling of the embeddings."
          NFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v })
            boolField "batch_norm" (fun p -> p.BatchNorm) (fun p v -> { p with BatchNorm = v }) ]
          noCheck nfm
      model "fwfm" "FwFM" "FwFM (Pan et al., WWW 2018): linear + one learned weight per field pair's inner product."
          FwFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v }) ]
          noCheck fwfm
      model "ffm" "FFM" "FFM (Juan et al., RecSys 2016): one latent vector per feature and field it meets."
          FFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v }) ]
          noCheck ffm
      model "fefm" "FEFM" "FEFM (Pande, 2020): linear + symmetric field-pair matrices between embeddings."
          FEFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            l2 "l2_reg_embedding_feat" (fun p -> p.L2FeatureEmbedding) (fun p v -> { p with L2FeatureEmbedding = v })
            l2 "l2_reg_embedding_field" (fun p -> p.L2FieldEmbedding) (fun p v -> { p with L2FieldEmbedding = v }) ]
          noCheck fefm
      model "opnn" "OPNN" "OPNN (Qu et al., ICDM 2016): an MLP over the embeddings and their outer products (superposition form)."
          OPNNParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]
          noCheck opnn
      model "afm" "AFM" "AFM (Xiao et al., IJCAI 2017): linear + attention-weighted pairwise interactions."
          AFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            intField "attention_dim" 1 (fun p -> p.AttentionDim) (fun p v -> { p with AttentionDim = v }) ]
          noCheck afm
      model "dcn" "DCN" "DCN (Wang et al., ADKDD 2017): vector cross layers beside an MLP."
          DCNParams.Defaults
          dcnFields
          noCheck dcn
      model "dcnv2" "DCNv2" "DCN-V2 (Wang et al., WWW 2021): matrix cross layers beside an MLP."
          DCNParams.Defaults
          dcnFields
          noCheck dcnv2
      model "xdeepfm" "xDeepFM" "xDeepFM (Lian et al., KDD 2018): linear + compressed interaction network + MLP."
          xDeepFMParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            intsField "cin_hidden_units" false (fun p -> p.CinSizes) (fun p v -> { p with CinSizes = v })
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]
          noCheck xdeepfm
      model "autoint" "AutoInt" "AutoInt (Song et al., CIKM 2019): stacked multi-head self-attention over the fields."
          AutoIntParams.Defaults
          autoIntFields
          noCheck autoint
      model "autoint+" "AutoInt+" "AutoInt+ (Song et al., CIKM 2019): AutoInt plus an MLP over the embeddings."
          AutoIntParams.PlusDefaults
          autoIntFields
          noCheck autoint
      model "fibinet" "FiBiNET" "FiBiNET (Huang et al., RecSys 2019): SENET re-weighting and bilinear interactions feed an MLP."
          FiBiNETParams.Defaults
          [ embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v })
            intField "reduction_ratio" 1 (fun p -> p.Reduction) (fun p v -> { p with Reduction = v })
            { Key = "bilinear_type"
              Set =
                fun p v ->
                    match v with
                    | Text "field_all" -> Ok { p with Bilinear = FieldAll }
                    | Text "field_each" -> Ok { p with Bilinear = FieldEach }
                    | Text "field_interaction" -> Ok { p with Bilinear = FieldInteraction }
                    | _ -> Error "field_all, field_each or field_interaction"
              Get =
                fun p ->
                    Text(
                        match p.Bilinear with
                        | FieldAll -> "field_all"
                        | FieldEach -> "field_each"
                        | FieldInteraction -> "field_interaction"
                    ) }
            hiddenUnits (fun p -> p.Hidden) (fun p v -> { p with Hidden = v })
            dropout (fun p -> p.Dropout) (fun p v -> { p with Dropout = v }) ]
          noCheck fibinet ]

/// Every model's key, for error messages: "lr, fm, dnn, …".
let names = all |> List.map (fun e -> e.Name)

/// The entry for a name (case-insensitive), or None.
let tryFind (name: string) =
    let key = name.ToLowerInvariant()
    all |> List.tryFind (fun e -> e.Name = key)
