namespace CtrDsl.Backends;

/// <summary>
/// The kernels a compiled plan launches. A backend knows nothing of graphs: it owns buffers and runs the forward
/// and backward math of each op family on them. Shapes are passed as plain sizes; all tensors are row-major.
/// Backward kernels ACCUMULATE into their gradient outputs (dx += …); the plan zeroes gradients before a backward pass.
/// An empty <see cref="BufferView"/> for a gradient output means "not wanted".
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }

    // ---- memory -------------------------------------------------------------------------------------------
    DeviceBuffer Allocate(long length, DType type);
    /// <summary>A device buffer holding a host array's values (the CPU backend shares the array itself).</summary>
    DeviceBuffer Bind(float[] host);
    /// <summary>Copies <paramref name="host"/> into the buffer <see cref="Bind"/> made from it: the optimizer moved
    /// the host values. Nothing to do where the buffer is the array itself (the CPU backend).</summary>
    void SyncFromHost(float[] host, DeviceBuffer bound);
    /// <summary>Copies a bound buffer back into its host array (gradients, running statistics, checkpoints).</summary>
    void SyncToHost(DeviceBuffer bound, float[] host);
    void Upload(ReadOnlySpan<float> source, BufferView destination);
    void Upload(ReadOnlySpan<int> source, BufferView destination);
    void Download(BufferView source, Span<float> destination);
    void Fill(BufferView y, float value);
    /// <summary>Strided block copy: <paramref name="rows"/> rows of <paramref name="width"/> values; y (+)= x.</summary>
    void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate);
    /// <summary>y += alpha·x.</summary>
    void Axpy(float alpha, BufferView x, BufferView y);

    // ---- dense algebra ------------------------------------------------------------------------------------
    /// <summary>C = alpha·op(A)·op(B) + beta·C, then the epilogue (row-major; the CPU backend's Cpu/Gemm.cs states the full contract).</summary>
    void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None);
    /// <summary>Strided batched GEMM: C_i = alpha·op(A_i)·op(B_i) + beta·C_i for i &lt; count, where A_i starts
    /// i·strideA values into a (likewise B_i, C_i). The shape of cuBLAS's SgemmStridedBatched.</summary>
    void BatchedGemm(int count, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        BufferView a, int lda, long strideA, BufferView b, int ldb, long strideB, float beta, BufferView c, int ldc, long strideC);

    // ---- pointwise ----------------------------------------------------------------------------------------
    void Unary(UnaryFn fn, BufferView x, BufferView y);
    /// <summary>dx += f'(x)·dy, using whichever of x and y the rule needs.</summary>
    void UnaryBackward(UnaryFn fn, BufferView x, BufferView y, BufferView dy, BufferView dx);
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

    // ---- reductions and layout ----------------------------------------------------------------------------
    /// <summary>x viewed as [outer; len; inner]: y[o, i] (+)= scale·Σ_l x[o, l, i].</summary>
    void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate);
    /// <summary>dx[o, l, i] += scale·dy[o, i].</summary>
    void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx);
    /// <summary>y = x with its axes permuted: y's axis d is x's axis perm[d]. y (+)= when accumulating.</summary>
    void Permute(ReadOnlySpan<int> xDims, ReadOnlySpan<int> perm, BufferView x, BufferView y, bool accumulate);

    // ---- normalisation ------------------------------------------------------------------------------------
    void Softmax(int rows, int cols, BufferView x, BufferView y);
    void SoftmaxBackward(int rows, int cols, BufferView y, BufferView dy, BufferView dx);
    /// <summary>Per row: y = (x − mean)·rstd·gamma + beta; mean and rstd saved per row.</summary>
    void LayerNorm(int rows, int cols, float eps, BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd);
    void LayerNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta);
    /// <summary>Per column over the rows (the batch). Training: batch statistics, saved, and the running
    /// statistics move by momentum (PyTorch convention, unbiased running variance). Eval: running statistics.</summary>
    void BatchNorm(int rows, int cols, float eps, float momentum, bool training, BufferView x, BufferView gamma, BufferView beta,
        BufferView y, BufferView mean, BufferView rstd, BufferView runningMean, BufferView runningVar);
    void BatchNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta);

    // ---- embeddings ---------------------------------------------------------------------------------------
    /// <summary>ids [bags; len] (−1 pads) into table [rows; dim] → y [bags; dim], pooled by sum or mean
    /// (an all-padding bag gives zeros). A plain lookup is len = 1.</summary>
    void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y);
    /// <summary>Dense table gradient: dtable[id] += dy[bag] (÷ count for mean).</summary>
    void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, BufferView dtable);
    /// <summary>Row-sparse table gradient into the step's accumulator.</summary>
    void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable);

    /// <summary>Crossed ids: y[b, g] = hash(ids[b, f] for f in group g) mod buckets; groups are
    /// fields[starts[g] .. starts[g+1]). The hash is fixed (SplitMix64 over the ids), so it is the same everywhere.</summary>
    void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets, BufferView ids, BufferView y);

    // ---- field interactions on x [batch; fields; dim] -----------------------------------------------------
    /// <summary>y[b, k] = ½[(Σ_f x)² − Σ_f x²] (the FM / NFM bi-interaction pooling).</summary>
    void BiInteraction(int batch, int fields, int dim, BufferView x, BufferView y);
    void BiInteractionBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx);
    /// <summary>y[b, p] = ⟨x_i, x_j⟩ for pairs p = (i &lt; j) in combinations order.</summary>
    void PairwiseInner(int batch, int fields, int dim, BufferView x, BufferView y);
    void PairwiseInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx);
    /// <summary>y[b, p] = x_iᵀ (U_p + U_pᵀ) x_j for pairs p = (i &lt; j), U [pairs; dim; dim].</summary>
    void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y);
    void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du);

    /// <summary>y[b, p] = a_i ⊙ b_j for pairs p = (i &lt; j): a, b [batch; fields; dim] → y [batch; pairs; dim].</summary>
    void PairwiseProduct(int batch, int fields, int dim, BufferView a, BufferView b, BufferView y);
    /// <summary>da_i += Σ_j dy_p ⊙ b_j, db_j += Σ_i dy_p ⊙ a_i. a and b may be one buffer, and so may da and db.</summary>
    void PairwiseProductBackward(int batch, int fields, int dim, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db);
    /// <summary>y[b, p] = x_i, or x_j when <paramref name="second"/>, for pairs p = (i &lt; j): [batch; fields; dim] → [batch; pairs; dim].</summary>
    void PairRows(int batch, int fields, int dim, bool second, BufferView x, BufferView y);
    /// <summary>dx_i (or dx_j) += dy_p for every pair p that reads it.</summary>
    void PairRowsBackward(int batch, int fields, int dim, bool second, BufferView dy, BufferView dx);
    /// <summary>z[b, r·fields + i] = h_r ⊙ x0_i: h [batch; rows; dim], x0 [batch; fields; dim] → z [batch; rows·fields; dim] (CIN).</summary>
    void FieldOuter(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView z);
    /// <summary>dh_r += Σ_i dz_(r,i) ⊙ x0_i, dx0_i += Σ_r dz_(r,i) ⊙ h_r. h and x0 may be one buffer, and so may dh and dx0.</summary>
    void FieldOuterBackward(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView dz, BufferView dh, BufferView dx0);
    /// <summary>y[b, p] = ⟨v_(i,j), v_(j,i)⟩ for pairs p = (i &lt; j) on x [batch; fields; fields·dim], where field i's
    /// row holds one dim-vector per field: v_(i,f) = x[b, i, f·dim …] (FFM).</summary>
    void FieldAwareInner(int batch, int fields, int dim, BufferView x, BufferView y);
    void FieldAwareInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx);
    /// <summary>y[b, p] = x_i x_jᵀ for pairs p = (i &lt; j): x [batch; fields; dim] → y [batch; pairs; dim; dim] (OPNN).</summary>
    void PairwiseOuter(int batch, int fields, int dim, BufferView x, BufferView y);
    /// <summary>dx_i += dy_p·x_j, dx_j += dy_pᵀ·x_i.</summary>
    void PairwiseOuterBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx);

    // ---- convolution over the field axis on [batch; channels; fields; dim] --------------------------------
    /// <summary>Kernel (h, 1), 'same' padding (top (h−1)/2, bottom the rest), weight [cout; cin; h], bias [cout].</summary>
    void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y);
    void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias);
    /// <summary>Max over windows (p, 1) along fields → outFields rows. A ceil window that runs past the end uses the
    /// rows that exist. A larger value replaces the running maximum and an equal one does not; the first NaN wins and
    /// stays, so y is NaN when the window holds one.</summary>
    void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y);
    /// <summary>dx[row] += dy for each window's arg-max row, found again from x and the forward output y: the first row t
    /// of the window with x[t] = y, or, when y is NaN, the first NaN row (the row the forward pass picked).</summary>
    void FieldMaxPoolBackward(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y,
        BufferView dy, BufferView dx);

    // ---- losses (mean over the rows present) --------------------------------------------------------------
    /// <summary>loss[0] = mean over n of softplus(z) − y·z, computed stably as max(z,0) − y·z + log1p(exp(−|z|)).</summary>
    void BceWithLogits(int n, BufferView logits, BufferView labels, BufferView loss);
    /// <summary>dz += dloss·(σ(z) − y)/n.</summary>
    void BceWithLogitsBackward(int n, BufferView logits, BufferView labels, BufferView dloss, BufferView dlogits);
    void Mse(int n, BufferView predictions, BufferView targets, BufferView loss);
    void MseBackward(int n, BufferView predictions, BufferView targets, BufferView dloss, BufferView dpredictions);

    // ---- optimizer steps on resident parameters (see Optim/DeviceOptimizer.cs) -----------------------------
    // Each rule is the span kernel of Optim/*Kernel.cs. A dense step updates whole buffers of one length; a rows step
    // updates row rows[s] of w and its state with gradient row s of grads [count; dim] (the lazy sparse update).
    // l2 ≠ 0 first adds l2·w to the gradient, as Regularization.AddGradient does (the gradient buffer may change).
    void AdamStep(BufferView w, BufferView g, BufferView m, BufferView v, in AdamCoefficients c, float l2);
    void AdamRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView m, BufferView v, in AdamCoefficients c, float l2);
    void AdagradStep(BufferView w, BufferView g, BufferView sum, in AdagradCoefficients c, float l2);
    void AdagradRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView sum, in AdagradCoefficients c, float l2);
    /// <summary>SGD; an empty <paramref name="momentum"/> buffer is plain SGD (w ← w − lr·g).</summary>
    void SgdStep(BufferView w, BufferView g, BufferView momentum, in SgdCoefficients c, float l2);
    void SgdRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView momentum, in SgdCoefficients c, float l2);
}
