namespace CtrDsl.Backends;

/// <summary>
/// The optimizer family: steps on resident parameters (see Optim/DeviceOptimizer.cs). Each rule is the span
/// kernel of Optim/*Kernel.cs. A dense step updates whole buffers of one length; a rows step updates row rows[s] of w
/// and its state with gradient row s of grads [count; dim] (the lazy sparse update). l2 ≠ 0 first adds l2·w to the
/// gradient, as Regularization.AddGradient does (the gradient buffer may change).
/// </summary>
public interface IOptimizerKernels
{
    void AdamStep(BufferView w, BufferView g, BufferView m, BufferView v, in AdamCoefficients c, float l2);
    void AdamRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView m, BufferView v, in AdamCoefficients c, float l2);
    void AdagradStep(BufferView w, BufferView g, BufferView sum, in AdagradCoefficients c, float l2);
    void AdagradRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView sum, in AdagradCoefficients c, float l2);
    /// <summary>SGD; an empty <paramref name="momentum"/> buffer is plain SGD (w ← w − lr·g).</summary>
    void SgdStep(BufferView w, BufferView g, BufferView momentum, in SgdCoefficients c, float l2);
    void SgdRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView momentum, in SgdCoefficients c, float l2);
}
