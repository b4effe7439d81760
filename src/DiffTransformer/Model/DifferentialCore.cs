using DiffTransformer.Kernels;
using static DiffTransformer.Model.AttentionMath;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// The differential attention core — everything between the projections (and rotary) and the per-head norm:
/// <code>
///   head h = (softmax(Q1K1ᵀ/√d) − λ·softmax(Q2K2ᵀ/√d)) · V_g,   g = h / n_rep
/// </code>
/// computed by each <see cref="AttentionKernel"/>. All take the sub-heads 2h, 2h+1 of q as Q1, Q2 of head h and
/// 2g, 2g+1 of k as K1, K2 of KV group g, a 2d-wide value per group and λ as a 0-d tensor (gradients flow into it);
/// H and Hkv follow from the shapes. The causal rule is bottom-right (query t at position S − T + t), so a cached
/// prefix of S − T positions is attended as in a full forward; <c>hiddenMask</c> (true = hidden, broadcast against
/// (B, H, T, S)) replaces it when rows are left-padded.
/// <see cref="DifferentialAttention"/> calls these; so can anyone timing or testing one kernel alone.
/// </summary>
public static class DifferentialCore
{
    /// <summary>
    /// Materialises both maps: q (B, 2H, T, d), k (B, 2Hkv, S, d), v (B, Hkv, S, 2d) → output (B, H, T, 2d) with the
    /// logits, maps and differential map it went through. With <paramref name="quantization"/>, the logits are quantised
    /// before the softmax (and recorded quantised).
    /// </summary>
    public static ExplicitAttention Explicit(Tensor q, Tensor k, Tensor v, Tensor lambda, Tensor? hiddenMask = null, LogitQuantization? quantization = null)
    {
        using var scope = NewDisposeScope();
        var (b, h, nRep, t, s, d) = Shape(q, k);
        var kx = RepeatKv(k.view(b, h / nRep, 2, s, d), nRep);           // (B, 2H, S, d): sub-head (h, i) reads (h / n_rep, i)
        var vx = RepeatKv(v.unsqueeze(2), nRep);                          // (B, H, S, 2d)
        var logits = Quantize(q.mul(Scalars.Of(1.0 / Math.Sqrt(d))).matmul(kx.transpose(-1, -2)), hiddenMask, quantization); // (B, 2H, T, S)
        var probs = MaskedSoftmax(logits, hiddenMask);                    // (B, 2H, T, S)
        var pairs = probs.view(b, h, 2, t, s);                            // (B, H, 2, T, S)
        var diff = pairs.select(2, 0).sub(pairs.select(2, 1).mul(lambda)); // (B, H, T, S): A1 − λ·A2
        var o = diff.matmul(vx);                                          // (B, H, T, 2d)
        var masked = MaskLogits(logits, hiddenMask);                      // (B, 2H, T, S), hidden = −∞
        return new ExplicitAttention(o.MoveToOuterDisposeScope(), masked.MoveToOuterDisposeScope(),
                                     probs.MoveToOuterDisposeScope(), diff.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Two scaled_dot_product_attention calls over all 2H sub-heads, one per half of the 2d-wide value (SDPA's CPU
    /// kernels need value width = query width), combined as A1V − λ·A2V; no T×S map is built.
    /// q (B, 2H, T, d), k (B, 2Hkv, S, d), v (B, Hkv, S, 2d) → (B, H, T, 2d).
    /// </summary>
    public static Tensor Fused(Tensor q, Tensor k, Tensor v, Tensor lambda, Tensor? hiddenMask = null)
    {
        using var scope = NewDisposeScope();
        var (b, h, nRep, t, s, d) = Shape(q, k);
        long hkv = h / nRep;
        var kx = RepeatKv(k.view(b, hkv, 2, s, d), nRep);                 // (B, 2H, S, d)
        var vx = RepeatKv(v.view(b, hkv, 1, s, 2 * d).expand(b, hkv, 2, s, 2 * d), nRep); // (B, 2H, S, 2d): sub-heads 2h, 2h+1 share head h's value
        var oA = Sdpa(q, kx, vx.narrow(-1, 0, d), hiddenMask);            // (B, 2H, T, d)
        var oB = Sdpa(q, kx, vx.narrow(-1, d, d), hiddenMask);            // (B, 2H, T, d)
        var o = cat([oA, oB], -1).view(b, h, 2, t, 2 * d);               // (B, H, 2, T, 2d)
        return o.select(2, 0).sub(o.select(2, 1).mul(lambda)).MoveToOuterDisposeScope(); // (B, H, T, 2d): A1V − λ·A2V
    }

    /// <summary>
    /// One new query per row over S cached positions, without copying keys or values: the query sub-heads that
    /// read KV group g are gathered as rows against that group's K1, K2 (B, Hkv, 2, S, d) and its single 2d-wide
    /// value (B, Hkv, S, 2d). (Expanding the value to all 2H sub-heads, as SDPA needs, would copy the whole
    /// cached value every token.) No causal mask: a single query sees every held position.
    /// q (B, 2H, 1, d), k (B, 2Hkv, S, d), v (B, Hkv, S, 2d) → (B, H, 1, 2d); <paramref name="hiddenMask"/> (B, 1, 1, S).
    /// </summary>
    public static Tensor Decode(Tensor q, Tensor k, Tensor v, Tensor lambda, Tensor? hiddenMask = null)
    {
        using var scope = NewDisposeScope();
        var (b, h, nRep, _, s, d) = Shape(q, k);
        long hkv = h / nRep;
        var qg = q.reshape(b, hkv, nRep, 2, d).transpose(2, 3);           // (B, Hkv, 2, n_rep, d): head g·n_rep + r, sub-head i
        var kg = k.view(b, hkv, 2, s, d);                                 // (B, Hkv, 2, S, d)
        var logits = qg.mul(Scalars.Of(1.0 / Math.Sqrt(d))).matmul(kg.transpose(-1, -2)); // (B, Hkv, 2, n_rep, S)
        if (hiddenMask is not null) logits = logits.masked_fill(hiddenMask.view(b, 1, 1, 1, s), Scalars.Of(float.NegativeInfinity));
        var probs = logits.softmax(-1, ScalarType.Float32).to_type(q.dtype); // (B, Hkv, 2, n_rep, S)
        var diff = probs.select(2, 0).sub(probs.select(2, 1).mul(lambda)); // (B, Hkv, n_rep, S): A1 − λ·A2
        var o = diff.matmul(v);                                           // (B, Hkv, n_rep, 2d)
        return o.reshape(b, h, 1, 2 * d).MoveToOuterDisposeScope();       // (B, H, 1, 2d)
    }

    /// <summary>
    /// Our exact query-blocked C# kernel (<see cref="BlockedAttention.Differential"/>), in the projections' own layout:
    /// q (B, T, 2H, d), k (B, S, 2Hkv, d), v (B, S, Hkv, 2d) → (B, T, H, 2d). CPU float32 with SIMD-sized widths only
    /// (<see cref="BlockedAttention.Supports"/>); no padding mask.
    /// </summary>
    public static Tensor Blocked(Tensor q, Tensor k, Tensor v, Tensor lambda) => BlockedAttention.Differential(q, k, v, lambda);

    /// <summary>(B, H, n_rep, T, S, d) of q (B, 2H, T, d) and k (B, 2Hkv, S, d).</summary>
    private static (long B, long H, long NRep, long T, long S, long D) Shape(Tensor q, Tensor k)
    {
        long h = q.shape[1] / 2, hkv = k.shape[1] / 2;
        return (q.shape[0], h, h / hkv, q.shape[2], k.shape[2], q.shape[3]);
    }
}
