using DiffTransformer.Kernels;
using F = TorchSharp.torch.nn.functional;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// The pieces both attention cores share: the causal rule aligned bottom-right (query t of T sits at position
/// S − T + t among S keys, so a cached prefix and a full forward agree), masked softmax in float32, SDPA calls under
/// that rule and the GQA repetition of KV heads. A hidden mask is boolean, true where a query must not see a key.
/// </summary>
internal static class AttentionMath
{
    /// <summary>(T, S) boolean mask, true where query t (at position S − T + t) would see a future key.</summary>
    public static Tensor FutureMask(long t, long s, Device device) =>
        ones(t, s, dtype: ScalarType.Bool, device: device).triu(1 + (s - t));

    /// <summary>
    /// Softmax of (…, T, S) logits in float32, returned in the logits' dtype: over the causal prefix when
    /// <paramref name="hiddenMask"/> is null, else over the keys it does not hide (it broadcasts against the logits).
    /// </summary>
    public static Tensor MaskedSoftmax(Tensor logits, Tensor? hiddenMask)
    {
        using var scope = NewDisposeScope();
        var mask = hiddenMask ?? FutureMask(logits.shape[^2], logits.shape[^1], logits.device);
        var probs = logits.masked_fill(mask, Scalars.Of(float.NegativeInfinity)).softmax(-1, ScalarType.Float32).to_type(logits.dtype);
        return probs.MoveToOuterDisposeScope();
    }

    /// <summary>The logits quantised under the causal rule or <paramref name="hiddenMask"/>; unchanged without <paramref name="quantization"/>.</summary>
    public static Tensor Quantize(Tensor logits, Tensor? hiddenMask, LogitQuantization? quantization)
    {
        if (quantization is null) return logits;
        using var scope = NewDisposeScope();
        var hidden = hiddenMask ?? FutureMask(logits.shape[^2], logits.shape[^1], logits.device);
        return quantization.Apply(logits, hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Logits with hidden positions set to −∞ (what a capture records).</summary>
    public static Tensor MaskLogits(Tensor logits, Tensor? hiddenMask) =>
        logits.masked_fill(hiddenMask ?? FutureMask(logits.shape[^2], logits.shape[^1], logits.device), Scalars.Of(float.NegativeInfinity));

    /// <summary>
    /// scaled_dot_product_attention of q (…, T, d) over k, v (…, S, ·) under the bottom-right causal rule: no mask for
    /// one query, SDPA's own causal flag when T = S (its flag is top-left aligned, right only then), an explicit mask
    /// when a cached prefix makes S &gt; T, and <paramref name="hiddenMask"/> when the cache has padding.
    /// </summary>
    public static Tensor Sdpa(Tensor q, Tensor k, Tensor v, Tensor? hiddenMask)
    {
        using var scope = NewDisposeScope();
        long t = q.shape[^2], s = k.shape[^2];
        Tensor o;
        if (hiddenMask is not null) o = F.scaled_dot_product_attention(q, k, v, attn_mask: hiddenMask.logical_not());
        else if (t == 1) o = F.scaled_dot_product_attention(q, k, v);
        else if (t == s) o = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else o = F.scaled_dot_product_attention(q, k, v, attn_mask: FutureMask(t, s, q.device).logical_not());
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Repeats KV heads for grouped-query attention: (B, Hkv, G, S, w) → (B, Hkv·nRep·G, S, w), so that
    /// query head h reads KV group h / nRep (the flash files' pairing). G groups sub-heads that travel together.
    /// </summary>
    public static Tensor RepeatKv(Tensor kv, long nRep)
    {
        long b = kv.shape[0], hkv = kv.shape[1], g = kv.shape[2], s = kv.shape[3], w = kv.shape[4];
        if (nRep == 1) return kv.reshape(b, hkv * g, s, w);
        return kv.unsqueeze(2).expand(b, hkv, nRep, g, s, w).reshape(b, hkv * nRep * g, s, w);
    }
}
