namespace CtrDsl.Models

/// The explicit list of zoo models. Filled in by the model-zoo issue.
module Registry =
    let names : string list = []
