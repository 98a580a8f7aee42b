namespace CtrDsl.Backends;

/// <summary>The pointwise and reduction family: elementwise functions of one or two tensors, and sums over one axis
/// with their broadcasts back (Relu … Dropout, Sum, Mean, Expand).</summary>
public interface IPointwiseKernels
{
    void Unary(UnaryFn fn, BufferView x, BufferView y);
    /// <summary>dx += f'(x)·dy (dx = f'(x)·dy unless <paramref name="accumulate"/>), using whichever of x and y the
    /// rule needs.</summary>
    void UnaryBackward(UnaryFn fn, BufferView x, BufferView y, BufferView dy, BufferView dx, bool accumulate);
    /// <summary>The backward of a dense layer fused with its ReLU, on [rows; cols]: dy ← dy where y &gt; 0, else 0, in
    /// place; then, when <paramref name="db"/> is not empty, db[j] (+)= Σ_r dy[r, j] in row order.</summary>
    void ReluMaskBackward(int rows, int cols, BufferView y, BufferView dy, BufferView db, bool accumulate);
    /// <summary>y[i] = f(a[i], b[i mod len(b)]): b repeats along a (a bias or a per-feature scale).</summary>
    void Binary(BinaryFn fn, BufferView a, BufferView b, BufferView y);
    /// <summary>da += ∂f/∂a·dy; db += the same for b, summed over its repeats.</summary>
    void BinaryBackward(BinaryFn fn, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db);
    /// <summary>y = x·s on [rows; cols] with one slope per column where x &lt; 0 (PReLU).</summary>
    void PRelu(int rows, int cols, BufferView x, BufferView slope, BufferView y);
    void PReluBackward(int rows, int cols, BufferView x, BufferView slope, BufferView dy, BufferView dx, BufferView dslope);
    /// <summary>Inverted dropout: keep with probability 1−rate and scale by 1/(1−rate); mask holds the scale or 0.
    /// The mask comes from a counter-based hash of (seed, index), so it is the same for any thread count.</summary>
    void Dropout(float rate, ulong seed, BufferView x, BufferView mask, BufferView y);
    /// <summary>x viewed as [outer; len; inner]: y[o, i] (+)= scale·Σ_l x[o, l, i].</summary>
    void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate);
    /// <summary>dx[o, l, i] += scale·dy[o, i].</summary>
    void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx);

    /// <summary>z = logit(σ(a)·σ(b)) = −logsumexp(−a, −b, −(a+b)) over n elements (ESMM). CPU only so far.</summary>
    void ProductLogit(int n, BufferView a, BufferView b, BufferView z) =>
        throw new NotSupportedException($"{GetType().Name}: no kernel for op product_logit yet; run ESMM on the CPU backend");

    /// <summary>da += dz·(w₁ + w₃), db += dz·(w₂ + w₃), w the softmax of (−a, −b, −(a+b)); an empty gradient is skipped.</summary>
    void ProductLogitBackward(int n, BufferView a, BufferView b, BufferView dz, BufferView da, BufferView db) =>
        throw new NotSupportedException($"{GetType().Name}: no kernel for op product_logit yet; run ESMM on the CPU backend");
}
