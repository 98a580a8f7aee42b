namespace CtrDsl.Backends;

/// <summary>Pointwise functions with a backward rule that needs only x, y and dy.</summary>
public enum UnaryFn { Relu, Sigmoid, Tanh, Identity }

/// <summary>Pointwise binary functions.</summary>
public enum BinaryFn { Add, Sub, Mul }

/// <summary>How a multi-valued embedding lookup pools its ids.</summary>
public enum Pooling { Sum, Mean }

/// <summary>How a pooling window count is rounded when the length is not a multiple of the window.</summary>
public enum PoolRounding { Floor, Ceil }
