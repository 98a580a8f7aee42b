namespace CtrDsl.Backends;

/// <summary>
/// The kernels a compiled plan launches. A backend knows nothing of graphs: it owns buffers and runs the forward
/// and backward math of each op family on them. Shapes are passed as plain sizes; all tensors are row-major.
/// Backward kernels ACCUMULATE into their gradient outputs (dx += …); the plan zeroes gradients before a backward pass.
/// An empty <see cref="BufferView"/> for a gradient output means "not wanted".
/// The contract is split by op family, one interface each; the same family name names the op files in Ops/, the
/// partial files of each backend and the OpenCL kernel files (docs/adding-a-backend.md has the table).
/// </summary>
public interface IBackend : IDisposable, IMemory, IGemmKernels, IPointwiseKernels, ILayoutKernels, INormalizationKernels,
    IEmbeddingKernels, IInteractionKernels, IFieldConvKernels, ILossKernels, IOptimizerKernels
{
    string Name { get; }
}
