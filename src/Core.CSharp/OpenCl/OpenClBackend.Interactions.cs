using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    private static int Pairs(int fields) => fields * (fields - 1) / 2;

    public void BiInteraction(int batch, int fields, int dim, BufferView x, BufferView y) =>
        K("bi_interaction").Int(fields).Int(dim).Buf(x).Buf(y).Run((long)batch * dim);

    public void BiInteractionBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("bi_interaction_backward").Int(fields).Int(dim).Buf(x).Buf(dy).Buf(dx).Run((long)batch * fields * dim);
    }

    public void PairwiseInner(int batch, int fields, int dim, BufferView x, BufferView y) =>
        K("pairwise_inner").Int(fields).Int(dim).Buf(x).Buf(y).Run((long)batch * Pairs(fields));

    public void PairwiseInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("pairwise_inner_backward").Int(fields).Int(dim).Buf(x).Buf(dy).Buf(dx).Run((long)batch * fields * dim);
    }

    // FEFM directly, O(dim²) per pair per sample, rather than the CPU's per-field GEMMs: at CTR sizes (k ≤ 16)
    // the pair loops are small and one launch per direction replaces F−1 GEMMs.
    public void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y) =>
        K("fefm").Int(fields).Int(dim).Buf(x).Buf(u).Buf(y).Run((long)batch * Pairs(fields));

    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        if (!dx.IsEmpty) K("fefm_backward_x").Int(fields).Int(dim).Buf(x).Buf(u).Buf(dy).Buf(dx).Run((long)batch * fields * dim);
        if (!du.IsEmpty) K("fefm_backward_u").Int(batch).Int(fields).Int(dim).Buf(x).Buf(dy).Buf(du).Run((long)Pairs(fields) * dim * dim);
    }

    public void PairwiseProduct(int batch, int fields, int dim, BufferView a, BufferView b, BufferView y) =>
        RowProducts(batch, fields, fields, dim, upper: true, a, b, y);

    public void PairwiseProductBackward(int batch, int fields, int dim, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db) =>
        RowProductsBackward(batch, fields, fields, dim, upper: true, a, b, dy, da, db);

    public void FieldOuter(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView z) =>
        RowProducts(batch, rows, fields, dim, upper: false, h, x0, z);

    public void FieldOuterBackward(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView dz, BufferView dh, BufferView dx0) =>
        RowProductsBackward(batch, rows, fields, dim, upper: false, h, x0, dz, dh, dx0);

    private void RowProducts(int batch, int rowsA, int rowsB, int dim, bool upper, BufferView a, BufferView b, BufferView y)
    {
        long q = upper ? Pairs(rowsA) : (long)rowsA * rowsB;
        K("row_products").Int(rowsA).Int(rowsB).Int(dim).Int(upper ? 1 : 0).Buf(a).Buf(b).Buf(y).Run(batch * q * dim);
    }

    // Two launches, one per side, so da and db may be one buffer: the in-order queue runs them one after the other.
    private void RowProductsBackward(int batch, int rowsA, int rowsB, int dim, bool upper,
        BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db)
    {
        if (!da.IsEmpty) K("row_products_backward_a").Int(rowsA).Int(rowsB).Int(dim).Int(upper ? 1 : 0).Buf(b).Buf(dy).Buf(da).Run((long)batch * rowsA * dim);
        if (!db.IsEmpty) K("row_products_backward_b").Int(rowsA).Int(rowsB).Int(dim).Int(upper ? 1 : 0).Buf(a).Buf(dy).Buf(db).Run((long)batch * rowsB * dim);
    }

    public void PairRows(int batch, int fields, int dim, bool second, BufferView x, BufferView y) =>
        K("pair_rows").Int(fields).Int(dim).Int(second ? 1 : 0).Buf(x).Buf(y).Run((long)batch * Pairs(fields) * dim);

    public void PairRowsBackward(int batch, int fields, int dim, bool second, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("pair_rows_backward").Int(fields).Int(dim).Int(second ? 1 : 0).Buf(dy).Buf(dx).Run((long)batch * fields * dim);
    }

    public void FieldAwareInner(int batch, int fields, int dim, BufferView x, BufferView y) =>
        K("field_aware_inner").Int(fields).Int(dim).Buf(x).Buf(y).Run((long)batch * Pairs(fields));

    public void FieldAwareInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("field_aware_inner_backward").Int(fields).Int(dim).Buf(x).Buf(dy).Buf(dx).Run((long)batch * fields * fields * dim);
    }

    public void PairwiseOuter(int batch, int fields, int dim, BufferView x, BufferView y) =>
        K("pairwise_outer").Int(fields).Int(dim).Buf(x).Buf(y).Run((long)batch * Pairs(fields) * dim * dim);

    public void PairwiseOuterBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("pairwise_outer_backward").Int(fields).Int(dim).Buf(x).Buf(dy).Buf(dx).Run((long)batch * fields * dim);
    }
}
