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
