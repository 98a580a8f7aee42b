using static TorchSharp.torch;

namespace CtrDsl.Torch;

internal static class TensorExtensions
{
    /// <summary>self[index[i]] += source[i] along <paramref name="dim"/>, in place (index_add_ with alpha 1).</summary>
    public static Tensor IndexAdd(this Tensor self, long dim, Tensor index, Tensor source) => self.index_add_(dim, index, source, 1f);
}
