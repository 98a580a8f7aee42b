namespace CtrDsl.Dsl

open CtrDsl.Backends

[<AutoOpen>]
module Combinators =
    /// `embed k` looks up every id field (and pools every multi-valued field) in one new table of k-wide rows:
    /// [batch; fields; k]. Using the same value in several places shares the table.
    val embed: dim: int -> Expr

    /// `embed` with explicit options.
    val embedWith: EmbedOptions -> Expr

    /// The first-order term: b + Σ_fields w[id] (+ Σ w_j·x_j over numeric fields), weights starting at 0 → [batch; 1].
    val linear: Expr

    /// `linear` with an L2 strength on its weights.
    val linearWith: l2: float32 -> Expr

    /// The numeric fields as they are: [batch; n].
    val dense: Expr

    /// `fm e` is half of the square of the sum minus the sum of the squares over the fields, summed over k:
    /// Σ_{i<j} ⟨e_i, e_j⟩ as [batch; 1].
    val fm: Expr -> Expr

    /// The bi-interaction pooling of NFM: ½[(Σ_f e_f)² − Σ_f e_f²] per k, [batch; k]; `fm` is its sum.
    val biInteraction: Expr -> Expr

    /// ⟨e_i, e_j⟩ for every field pair i < j in combinations order: [batch; pairs] (IPNN).
    val innerProduct: Expr -> Expr

    /// FwFM's interaction term: Σ_{i<j} r_ij ⟨e_i, e_j⟩ with one learned weight per field pair: [batch; 1]
    /// (a bias-free `weightedSum` of `innerProduct`).
    val fwfm: Expr -> Expr

    /// e_iᵀ (U_ij + U_ijᵀ) e_j for every field pair: [batch; pairs] (FEFM, Pande 2020). `reduceSum` gives the FEFM term.
    val fefm: Expr -> Expr

    /// `fefm` with explicit options.
    val fefmWith: FefmOptions -> Expr -> Expr

    /// Sum over the last axis, kept: [batch; n] → [batch; 1].
    val reduceSum: Expr -> Expr

    /// Hidden layers then one linear output unit: a logit [batch; 1]. The input must be [batch; n].
    val mlp: hidden: int list -> Expr -> Expr

    /// `mlp` with explicit options. Empty Hidden gives a plain linear layer to one unit.
    val mlpWith: MlpOptions -> Expr -> Expr

    /// The hidden layers alone: [batch; last hidden] (the input itself when Hidden is empty).
    val layers: MlpOptions -> Expr -> Expr

    /// One dense layer to n units (no activation).
    val denseLayer: units: int -> Expr -> Expr

    /// Elementwise sum of blocks of one shape (logits [batch; 1] in most models).
    val sum: Expr list -> Expr

    /// Concatenation along the last axis.
    val concat: Expr list -> Expr

    /// Concatenation along the field axis: [batch; f_i; k] → [batch; Σf_i; k].
    val concatFields: Expr list -> Expr

    /// [batch; d1; …] → [batch; d1·…].
    val flatten: Expr -> Expr

    /// The usual DNN input: the flattened embeddings followed by the numeric fields when there are any
    /// (DeepCTR's combined_dnn_input).
    val dnnInput: Expr -> Expr

    /// The listed fields (by position) of [batch; fields; k], in the given order.
    val selectFields: int list -> Expr -> Expr

    /// Every field except the listed positions.
    val excludeFields: int list -> Expr -> Expr

    /// Σ_j r_j·x_j with one learned weight per column and no bias: [batch; n] → [batch; 1] (FwFM's pair weights).
    val weightedSum: Expr -> Expr

    /// FGCNN feature generation: per layer, conv (h, 1) 'same' → tanh → max-pool (p, 1) → dense recombination with
    /// tanh into new feature maps; all generated features are concatenated: [batch; Σ generated; k].
    val convGenerate: ConvGenerateOptions -> Expr -> Expr

    /// A block with the same definition under another name (for describe, errors and parameter names). It is a new
    /// block with its own parameters: bind the named value and use it wherever it should be shared.
    val named: string -> Expr -> Expr

    /// FFM (Juan 2016): a new field-aware table where each id has one k-vector per field;
    /// ⟨v_(i, field j), v_(j, field i)⟩ for every field pair: [batch; pairs]. `reduceSum` gives the FFM term.
    val ffm: dim: int -> Expr

    /// The PNN paper's outer-product layer in its superposition form: with s = Σ_f e_f, the k×k matrix s sᵀ
    /// flattened: [batch; k·k].
    val outerProduct: Expr -> Expr

    /// `cross form layers x` stacks cross layers on x [batch; d] (x0 = x): [batch; d].
    val cross: CrossForm -> layers: int -> Expr -> Expr

    /// xDeepFM's compressed interaction network over e [batch; m; D]: layer k is
    /// X_k[h] = Σ_{i,j} W_k[h, i, j]·(X_{k−1}[i] ⊙ X_0[j]) + b_k[h]; every layer is sum-pooled over D and the pools
    /// are concatenated: [batch; Σ sizes].
    val cin: sizes: int list -> Expr -> Expr

    /// AutoInt's multi-head self-attention over the fields of e [batch; fields; d], ReLU after the residual:
    /// [batch; fields; heads·headDim].
    val selfAttention: AttentionOptions -> Expr -> Expr

    /// AFM's attention-weighted sum of the pairwise products e_i ⊙ e_j: a ReLU attention net of the given size
    /// scores each pair, a softmax over the pairs weighs them: [batch; k].
    val attentionPooling: attentionDim: int -> Expr -> Expr

    /// FiBiNET's SENET: per-field weights from the mean of each embedding through two ReLU layers (reduction ratio r),
    /// multiplied back onto the fields: [batch; fields; k].
    val senet: reduction: int -> Expr -> Expr

    /// FiBiNET's bilinear interaction for every field pair: [batch; pairs; k].
    val bilinear: BilinearKind -> Expr -> Expr

    /// Wide & Deep's cross-product features: each group of named id fields is crossed (its ids hashed into one of
    /// `buckets` rows of a new first-order weight table) and the weights of the crossed ids are summed: [batch; 1].
    val crossProduct: crosses: string list list -> buckets: int -> Expr
