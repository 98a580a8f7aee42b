using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void ProductLogit(int n, BufferView a, BufferView b, BufferView z)
    {
        var x = F(a); var y = F(b); var o = F(z);
        for (int i = 0; i < n; i++)
        {
            double u = -x[i], v = -y[i], w = u + v, m = Math.Max(u, Math.Max(v, w));
            o[i] = (float)-(m + Math.Log(Math.Exp(u - m) + Math.Exp(v - m) + Math.Exp(w - m)));
        }
    }

    public void ProductLogitBackward(int n, BufferView a, BufferView b, BufferView dz, BufferView da, BufferView db)
    {
        var x = F(a); var y = F(b); var g = F(dz);
        var dx = da.IsEmpty ? default : F(da);
        var dy = db.IsEmpty ? default : F(db);
        for (int i = 0; i < n; i++)
        {
            double u = -x[i], v = -y[i], w = u + v, m = Math.Max(u, Math.Max(v, w));
            double eu = Math.Exp(u - m), ev = Math.Exp(v - m), ew = Math.Exp(w - m), s = eu + ev + ew;
            if (!dx.IsEmpty) dx[i] += (float)(g[i] * (eu + ew) / s);
            if (!dy.IsEmpty) dy[i] += (float)(g[i] * (ev + ew) / s);
        }
    }
}
