namespace CtrDsl.Backends;

/// <summary>Pointwise functions with a backward rule that needs only x, y and dy.</summary>
public enum UnaryFn { Relu, Sigmoid, Tanh, Identity }

/// <summary>Pointwise binary functions.</summary>
public enum BinaryFn { Add, Sub, Mul }

/// <summary>How a multi-valued embedding lookup pools its ids: the one pooling vocabulary of schemas, graphs and kernels.</summary>
public enum Pooling { Sum, Mean }

/// <summary>How a padded sequence of vectors is pooled over its valid positions (<c>masked_pool</c>).</summary>
public enum SequencePooling { Sum, Mean, Max }

/// <summary>How a pooling window count is rounded when the length is not a multiple of the window.</summary>
public enum PoolRounding { Floor, Ceil }

/// <summary>Whether a GEMM operand is used as stored (<see cref="No"/>) or transposed (<see cref="Yes"/>).</summary>
public enum Transpose { No, Yes }

/// <summary>
/// What is applied to C after alpha·op(A)·op(B) + beta·C: <see cref="Bias"/> adds a length-n vector to every row,
/// <see cref="BiasRelu"/> then applies max(0, ·).
/// </summary>
public enum GemmEpilogue { None, Bias, BiasRelu }
