namespace CtrDsl.Dsl

/// The F# view of the core expression graph. Filled in by the DSL issue.
module Expr =
    let version = "0.1"
