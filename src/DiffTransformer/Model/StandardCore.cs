using DiffTransformer.Kernels;
using F = TorchSharp.torch.nn.functional;
using static DiffTransformer.Model.AttentionMath;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// The baseline's attention core, <c>softmax(QKᵀ/√d)·V</c> per head with head j reading KV head j / n_rep, computed by
/// each <see cref="AttentionKernel"/>; the heads and KV heads follow from the shapes. The causal rule and
/// <c>hiddenMask</c> are those of <see cref="DifferentialCore"/>. <see cref="MultiheadAttention"/> calls these.
/// </summary>
public static class StandardCore
{
    /// <summary>
    /// q (B, Hq, T, d), k and v (B, Hkv, S, d) → output (B, Hq, T, d) with its masked logits and maps (B, Hq, T, S);
    /// with <paramref name="quantization"/>, the logits are quantised before the softmax (and recorded quantised).
    /// </summary>
    public static ExplicitAttention Explicit(Tensor q, Tensor k, Tensor v, Tensor? hiddenMask = null, LogitQuantization? quantization = null)
    {
        using var scope = NewDisposeScope();
        long nRep = q.shape[1] / k.shape[1], d = q.shape[3];
        var kx = RepeatKv(k.unsqueeze(2), nRep);                          // (B, Hq, S, d)
        var vx = RepeatKv(v.unsqueeze(2), nRep);                          // (B, Hq, S, d)
        var logits = Quantize(q.mul(Scalars.Of(1.0 / Math.Sqrt(d))).matmul(kx.transpose(-1, -2)), hiddenMask, quantization); // (B, Hq, T, S)
        var probs = MaskedSoftmax(logits, hiddenMask);                    // (B, Hq, T, S)
        var o = probs.matmul(vx);                                         // (B, Hq, T, d)
        var masked = MaskLogits(logits, hiddenMask);                      // (B, Hq, T, S), hidden = −∞
        return new ExplicitAttention(o.MoveToOuterDisposeScope(), masked.MoveToOuterDisposeScope(), probs.MoveToOuterDisposeScope(), null);
    }

    /// <summary>One scaled_dot_product_attention call: q (B, Hq, T, d), k and v (B, Hkv, S, d) → (B, Hq, T, d).</summary>
    public static Tensor Fused(Tensor q, Tensor k, Tensor v, Tensor? hiddenMask = null)
    {
        using var scope = NewDisposeScope();
        long nRep = q.shape[1] / k.shape[1];
        var kx = RepeatKv(k.unsqueeze(2), nRep);                          // (B, Hq, S, d)
        var vx = RepeatKv(v.unsqueeze(2), nRep);                          // (B, Hq, S, d)
        return Sdpa(q, kx, vx, hiddenMask).MoveToOuterDisposeScope();     // (B, Hq, T, d)
    }

    /// <summary>
    /// One query per row over S cached positions: the n_rep query heads of KV head g become n_rep rows against g's
    /// keys, so nothing is copied; a single query sees every held position, so only padding needs a mask.
    /// q (B, Hq, 1, d), k and v (B, Hkv, S, d) → (B, Hq, 1, d); <paramref name="hiddenMask"/> (B, 1, 1, S).
    /// </summary>
    public static Tensor Decode(Tensor q, Tensor k, Tensor v, Tensor? hiddenMask = null)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], nh = q.shape[1], nkv = k.shape[1], d = q.shape[3];
        var qg = q.reshape(b, nkv, nh / nkv, d);                          // (B, Hkv, n_rep, d)
        var o = hiddenMask is null
            ? F.scaled_dot_product_attention(qg, k, v)                    // (B, Hkv, n_rep, d)
            : F.scaled_dot_product_attention(qg, k, v, attn_mask: hiddenMask.logical_not()); // mask (B, 1, 1, S)
        return o.reshape(b, nh, 1, d).MoveToOuterDisposeScope();          // (B, Hq, 1, d)
    }

    /// <summary>
    /// Our exact query-blocked C# kernel (<see cref="BlockedAttention.Standard"/>), in the projections' layout:
    /// q (B, T, Hq, d), k and v (B, S, Hkv, d) → (B, T, Hq, d). CPU float32 only; no padding mask.
    /// </summary>
    public static Tensor Blocked(Tensor q, Tensor k, Tensor v) => BlockedAttention.Standard(q, k, v);
}
