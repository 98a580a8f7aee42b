namespace CtrDsl.Dsl

open CtrDsl.Backends

/// DIN's local activation unit (Zhou 2018): the MLP that scores each behaviour e_t of a history against the target q
/// from [q; e_t; q − e_t; q ⊙ e_t], its hidden sizes and activation, and whether the scores become a softmax over the
/// valid positions. The paper's default is no softmax: the raw scores weight the behaviours, so a user's intensity
/// of interest is kept, and they are exactly 0 on padding.
type AttentionUnitOptions = { Hidden: int list; Activation: Activation; Softmax: bool }

module AttentionUnitOptions =
    /// Hidden 80 → 40 with Dice, no softmax: DeepCTR's DIN defaults (att_hidden_size, att_activation,
    /// att_weight_normalization), which follow the paper's figure 2.
    val din: AttentionUnitOptions

/// DIEN's interest extractor and evolving layers (Zhou et al., AAAI 2019): the GRU's hidden size is the embedding
/// size; the attention unit scores each interest state against the candidate (the paper's code: 80 → 40 sigmoid,
/// softmax over the valid positions); the auxiliary net scores [h_t; e] with hidden sizes 100 → 50 sigmoid, and its
/// loss, times AuxiliaryWeight (α), is added to the model's loss. AuxiliaryWeight 0 leaves the auxiliary loss out.
type InterestEvolutionOptions = { Attention: AttentionUnitOptions; Auxiliary: int list; AuxiliaryWeight: float32 }

module InterestEvolutionOptions =
    /// The DIEN authors' code defaults: unit 80-40 sigmoid with softmax, auxiliary net 100-50 sigmoid, α = 1.
    val dien: InterestEvolutionOptions

/// BST's transformer block (Chen et al., DLP-KDD 2019): heads of the multi-head self-attention (they divide the
/// embedding size) and the feed-forward width as a multiple of the embedding size.
type TransformerOptions = { Heads: int; FeedForwardRatio: int }

module TransformerOptions =
    /// 8 heads (the paper's), feed-forward 4·k (the original transformer's ratio; the paper does not give one).
    val bst: TransformerOptions

[<AutoOpen>]
module SequenceCombinators =
    /// The embedding table of `embedWith` as a block of its own, [rows; k]: pass one value to several lookups to
    /// share it (the candidate item and the item history read the same rows).
    val embeddingTable: EmbedOptions -> Expr

    /// The id fields looked up in a table: [batch; idFields; k], the id part of `embedWith`.
    val lookupIds: table: Expr -> Expr

    /// Every multi-valued field looked up in a table and pooled over its valid positions: [batch; sequences; k].
    /// Sum is Σ_t mask_t·e_t, mean that sum ÷ Σ_t mask_t, max the largest e_t,i over the valid t (padding never
    /// wins, whatever its rows hold); a history with no valid position gives 0. Appending padding changes nothing.
    val sequencePool: SequencePooling -> table: Expr -> Expr

    /// Every multi-valued field pooled into one row of a table: [batch; sequences; k]. A field with a target (the
    /// id field that shares its vocabulary, e.g. history ↔ item) is pooled by DIN's local activation unit:
    /// Σ_t w_t·e_t with w_t = unit(q, e_t)·mask_t, q the target's row, mask_t 0 on padding (or a softmax over the
    /// valid positions when the options ask for it). One unit per field. A field without a target is pooled as its
    /// schema says (sum or mean). Raises when no multi-valued field has a target.
    val targetAttention: AttentionUnitOptions -> table: Expr -> Expr

    /// A GRU over a padded sequence x [batch; len; d] whose positions run most recent first, as history fields do: the
    /// recurrence reads them from the last position to the first (oldest to newest), so the state at position 0 has
    /// read the whole history. mask [batch; len; 1] is 1 on a valid position and 0 on padding; a padded position keeps
    /// the state, so appending padding changes nothing. With the update gate as in DIEN (eq. 1–4),
    /// u_t = σ(W_u x_t + U_u h + b_u), r_t = σ(W_r x_t + U_r h + b_r), h̃_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h + c_h))
    /// and h ← h + m_t·u_t ⊙ (h̃_t − h): (1 − u_t) ⊙ h + u_t ⊙ h̃_t on a valid position. The state starts at 0. The
    /// result is every position's state, [batch; len; hidden]. Composed from the core's primitives (about fifteen
    /// nodes a step), so its backward pass is the graph's.
    val gru: hidden: int -> mask: Expr -> sequence: Expr -> Expr

    /// DIEN's GRU with attentional update gate (AUGRU): `gru` with u_t scaled by the score a_t of position t,
    /// attention [batch; len; 1]: h ← h + m_t·a_t·u_t ⊙ (h̃_t − h). A behaviour scored 0 leaves the state as it was.
    val augru: hidden: int -> mask: Expr -> attention: Expr -> sequence: Expr -> Expr

    /// DIEN's interest layers for every multi-valued field with a target (the others pooled as their schema says):
    /// the behaviours e_t [batch; len; k] from the table, a `gru` over them gives the interest states h_t, the unit
    /// scores each h_t against the candidate's row (softmax over the valid positions), and an `augru` over h_t with
    /// those scores gives the final interest, one [k] row per field: [batch; sequences; k]. The auxiliary loss: the
    /// state after behaviour t predicts the next behaviour e_{t+1} (label 1) against a negative (label 0), the
    /// behaviour at the same depth of the next row's history in the batch; binary cross-entropy over the pairs where
    /// both are valid, through a positionwise MLP on [h_t; e]. Raises when no multi-valued field has a target.
    val interestEvolution: InterestEvolutionOptions -> table: Expr -> Expr

    /// BST's behaviour sequence transformer for every multi-valued field with a target (the others pooled as their
    /// schema says): x = [q; e_1 … e_len] + learned position embeddings, [batch; len + 1; k] with the target first;
    /// one block h1 = LayerNorm(x + W_o·MHSA(x)), h2 = LayerNorm(h1 + FFN(h1)) with FFN = linear, PReLU, linear. The
    /// self-attention's keys are masked to the valid positions: each query's softmax is exactly 0 on padding and sums
    /// to 1 over the valid positions (the target's is always valid). Two rows per field: the target's output and the
    /// masked mean of the behaviours' outputs, [batch; 2·sequences; k]; appending padding changes neither.
    val behaviourTransformer: TransformerOptions -> table: Expr -> Expr
