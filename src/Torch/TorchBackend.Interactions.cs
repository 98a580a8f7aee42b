using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

// Pairs p = (i < j) in combinations order become index tensors I and J (cached per field count), so "x_i for every
// pair" is index_select along the field axis, and each backward scatters with index_add_ along it (sequential on the
// CPU, so deterministic). Inner products of all pairs come from one bmm, x·xᵀ, read at the flat pair indices i·F + j.
public sealed partial class TorchBackend
{
    private readonly Dictionary<int, (Tensor I, Tensor J, Tensor IJ, Tensor JI)> _pairs = new();

    private (Tensor I, Tensor J, Tensor IJ, Tensor JI) Pairs(int fields)
    {
        if (_pairs.TryGetValue(fields, out var p)) return p;
        var (i, j, ij, ji) = (new List<int>(), new List<int>(), new List<int>(), new List<int>());
        for (int a = 0; a < fields; a++)
            for (int b = a + 1; b < fields; b++) { i.Add(a); j.Add(b); ij.Add(a * fields + b); ji.Add(b * fields + a); }
        p = (Index(i.ToArray()), Index(j.ToArray()), Index(ij.ToArray()), Index(ji.ToArray()));
        foreach (var t in new[] { p.I, p.J, p.IJ, p.JI }) t.DetachFromDisposeScope();
        _pairs[fields] = p;
        return p;
    }

    private static long PairCount(int fields) => (long)fields * (fields - 1) / 2;

    public void BiInteraction(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        if ((long)batch * dim == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, batch, fields, dim);
        T(y, batch, dim).copy_(xs.sum(1).square().sub(xs.square().sum(1)).mul(0.5f));
    }

    // ∂y_k/∂x_f,k = Σ_g x_g,k − x_f,k.
    public void BiInteractionBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty || (long)batch * fields * dim == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, batch, fields, dim);
        T(dx, batch, fields, dim).add_(T(dy, batch, 1, dim).mul(xs.sum(1, keepdim: true).sub(xs)));
    }

    public void PairwiseInner(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, batch, fields, dim);
        var gram = xs.bmm(xs.transpose(1, 2)).view(batch, (long)fields * fields);
        T(y, batch, pairs).copy_(gram.index_select(1, Pairs(fields).IJ));
    }

    // With G = x·xᵀ and dG holding dy at (i, j): dx += (dG + dGᵀ)·x.
    public void PairwiseInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        long pairs = PairCount(fields);
        if (dx.IsEmpty || batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var dg = zeros([batch, (long)fields * fields], ScalarType.Float32, TorchDevice)
            .IndexAdd(1, Pairs(fields).IJ, T(dy, batch, pairs)).view(batch, fields, fields);
        T(dx, batch, fields, dim).add_(dg.add(dg.transpose(1, 2)).bmm(T(x, batch, fields, dim)));
    }

    // y_p = x_iᵀ (U_p + U_pᵀ) x_j.
    public void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs == 0) return;
        using var scope = NewDisposeScope();
        var (xi, xj) = PairOperands(x, batch, fields, dim);
        var us = Symmetric(u, pairs, dim);
        T(y, batch, pairs).copy_(einsum("bpd,pde,bpe->bp", xi, us, xj));
    }

    // With S_p = U_p + U_pᵀ: dx_i += dy·S_p x_j, dx_j += dy·S_p x_i, dU_p += Σ_b dy·(x_i x_jᵀ + x_j x_iᵀ).
    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        long pairs = PairCount(fields);
        if (batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var (xi, xj) = PairOperands(x, batch, fields, dim);
        var g = T(dy, batch, pairs);
        if (!dx.IsEmpty)
        {
            var us = Symmetric(u, pairs, dim);
            var p = Pairs(fields);
            var dxs = T(dx, batch, fields, dim);
            dxs.IndexAdd(1, p.I, einsum("bp,pde,bpe->bpd", g, us, xj));
            dxs.IndexAdd(1, p.J, einsum("bp,pde,bpd->bpe", g, us, xi));
        }
        if (!du.IsEmpty)
        {
            var outer = einsum("bp,bpd,bpe->pde", g, xi, xj);
            T(du, pairs, dim, dim).add_(outer.add(outer.transpose(1, 2)));
        }
    }

    private (Tensor Xi, Tensor Xj) PairOperands(BufferView x, int batch, int fields, int dim)
    {
        var xs = T(x, batch, fields, dim);
        var p = Pairs(fields);
        return (xs.index_select(1, p.I), xs.index_select(1, p.J));
    }

    private static Tensor Symmetric(BufferView u, long pairs, int dim)
    {
        var us = T(u, pairs, dim, dim);
        return us.add(us.transpose(1, 2));
    }

    public void PairwiseProduct(int batch, int fields, int dim, BufferView a, BufferView b, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var p = Pairs(fields);
        T(y, batch, pairs, dim).copy_(T(a, batch, fields, dim).index_select(1, p.I).mul(T(b, batch, fields, dim).index_select(1, p.J)));
    }

    public void PairwiseProductBackward(int batch, int fields, int dim, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db)
    {
        long pairs = PairCount(fields);
        if (batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var p = Pairs(fields);
        var g = T(dy, batch, pairs, dim);
        // Both products first: da and db may be one buffer, and so may a and b.
        var gA = da.IsEmpty ? null : g.mul(T(b, batch, fields, dim).index_select(1, p.J));
        var gB = db.IsEmpty ? null : g.mul(T(a, batch, fields, dim).index_select(1, p.I));
        if (gA is not null) T(da, batch, fields, dim).IndexAdd(1, p.I, gA);
        if (gB is not null) T(db, batch, fields, dim).IndexAdd(1, p.J, gB);
    }

    public void PairRows(int batch, int fields, int dim, bool second, BufferView x, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var p = Pairs(fields);
        T(y, batch, pairs, dim).copy_(T(x, batch, fields, dim).index_select(1, second ? p.J : p.I));
    }

    public void PairRowsBackward(int batch, int fields, int dim, bool second, BufferView dy, BufferView dx)
    {
        long pairs = PairCount(fields);
        if (dx.IsEmpty || batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var p = Pairs(fields);
        T(dx, batch, fields, dim).IndexAdd(1, second ? p.J : p.I, T(dy, batch, pairs, dim));
    }

    public void FieldOuter(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView z)
    {
        if ((long)batch * rows * fields * dim == 0) return;
        using var scope = NewDisposeScope();
        T(z, batch, rows, fields, dim).copy_(T(h, batch, rows, 1, dim).mul(T(x0, batch, 1, fields, dim)));
    }

    public void FieldOuterBackward(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView dz, BufferView dh, BufferView dx0)
    {
        if ((long)batch * rows * fields * dim == 0) return;
        using var scope = NewDisposeScope();
        var g = T(dz, batch, rows, fields, dim);
        // Both sums first: dh and dx0 may be one buffer, and so may h and x0.
        var gh = dh.IsEmpty ? null : g.mul(T(x0, batch, 1, fields, dim)).sum(2);
        var gx = dx0.IsEmpty ? null : g.mul(T(h, batch, rows, 1, dim)).sum(1);
        if (gh is not null) T(dh, batch, rows, dim).add_(gh);
        if (gx is not null) T(dx0, batch, fields, dim).add_(gx);
    }

    // x viewed as [batch; fields·fields; dim]: v_(i,f) is row i·F + f.
    public void FieldAwareInner(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, batch, (long)fields * fields, dim);
        var p = Pairs(fields);
        T(y, batch, pairs).copy_(xs.index_select(1, p.IJ).mul(xs.index_select(1, p.JI)).sum(2));
    }

    public void FieldAwareInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        long pairs = PairCount(fields);
        if (dx.IsEmpty || batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, batch, (long)fields * fields, dim);
        var p = Pairs(fields);
        var g = T(dy, batch, pairs, 1);
        var dxs = T(dx, batch, (long)fields * fields, dim);
        dxs.IndexAdd(1, p.IJ, g.mul(xs.index_select(1, p.JI)));
        dxs.IndexAdd(1, p.JI, g.mul(xs.index_select(1, p.IJ)));
    }

    public void PairwiseOuter(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        long pairs = PairCount(fields);
        if (batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var (xi, xj) = PairOperands(x, batch, fields, dim);
        T(y, batch, pairs, dim, dim).copy_(xi.unsqueeze(3).mul(xj.unsqueeze(2)));
    }

    // dx_i += dy_p·x_j, dx_j += dy_pᵀ·x_i.
    public void PairwiseOuterBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        long pairs = PairCount(fields);
        if (dx.IsEmpty || batch * pairs * dim == 0) return;
        using var scope = NewDisposeScope();
        var (xi, xj) = PairOperands(x, batch, fields, dim);
        var g = T(dy, batch, pairs, dim, dim);
        var p = Pairs(fields);
        var dxs = T(dx, batch, fields, dim);
        dxs.IndexAdd(1, p.I, g.matmul(xj.unsqueeze(3)).squeeze(3));
        dxs.IndexAdd(1, p.J, g.transpose(2, 3).matmul(xi.unsqueeze(3)).squeeze(3));
    }
}
