namespace CtrDsl.Dsl

/// MMoE's mixture (Ma et al., KDD 2018): Experts experts, each the hidden layers of Expert, and one linear softmax
/// gate per task over them.
type ExpertOptions = { Experts: int; Expert: MlpOptions }

/// PLE's progressive layered extraction (Tang et al., RecSys 2020): Levels extraction layers, each with
/// SharedExperts shared experts and SpecificExperts experts per task (each the hidden layers of Expert); a task's
/// gate mixes its own and the shared experts, a shared gate (below the last layer) mixes all of them.
type PleOptions = { Levels: int; SharedExperts: int; SpecificExperts: int; Expert: MlpOptions }

/// The blocks of multi-task models. The tasks come from the schema (`labels:` as tasks): a multi-task model ends in
/// one output per task, [batch; tasks], in the schema's order.
[<AutoOpen>]
module MultiTaskCombinators =
    /// One MLP tower per task, each ending in one unit (a logit for a BCE task): [batch; tasks]. The input is one
    /// representation every tower reads, [batch; d] (Shared-Bottom), or one per task, [batch; tasks; d] (MMoE, PLE).
    val towers: MlpOptions -> Expr -> Expr

    /// MMoE: x [batch; d] through every expert; task t's row is Σ_e g_t,e·expert_e(x) with g_t = softmax(W_t x):
    /// [batch; tasks; last hidden]. With one expert every gate is exactly 1 and this is a shared bottom.
    val experts: ExpertOptions -> Expr -> Expr

    /// PLE's extraction layers over x [batch; d]: [batch; tasks; last hidden].
    val ple: PleOptions -> Expr -> Expr

    /// ESMM (Ma et al., SIGIR 2018): from a CTR logit and a CVR logit, both [batch; 1], the two outputs trained over
    /// the entire space, [batch; 2]: the CTR logit and logit(pCTR × pCVR), the CTCVR logit (`product_logit`, stable
    /// from the logits). The schema's two tasks are CTR (click) and CTCVR (click AND conversion), in that order.
    val esmm: ctr: Expr -> cvr: Expr -> Expr
