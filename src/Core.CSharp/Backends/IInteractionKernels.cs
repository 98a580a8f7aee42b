namespace CtrDsl.Backends;

/// <summary>The field interaction family, on x [batch; fields; dim]. Pairs p = (i &lt; j) are in combinations order:
/// p = i·(2F − i − 1)/2 + (j − i − 1) for F fields.</summary>
public interface IInteractionKernels
{
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
}
