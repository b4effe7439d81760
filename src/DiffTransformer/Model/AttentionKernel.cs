namespace DiffTransformer.Model;

/// <summary>How the attention core is computed; all give the same numbers (tested to 1e-5 in float32).</summary>
public enum AttentionKernel
{
    /// <summary>Materialises the T×S logits and softmax maps; the only path that can hand them to a caller.</summary>
    Explicit,
    /// <summary>libtorch's scaled_dot_product_attention: never builds a T×T map.</summary>
    Fused,
    /// <summary>
    /// Our exact query-blocked kernel (<see cref="Kernels.BlockedAttention"/>): both DIFF maps per block of query rows,
    /// <c>(A1 − λ·A2)·V</c> in one product, memory linear in T. CPU float32 only; elsewhere (another device or dtype,
    /// a padded batch, single-token decoding) the module runs the fused core instead.
    /// </summary>
    Blocked,
}
