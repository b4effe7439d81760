using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Model;

/// <summary>
/// Common shape of the DIFF and baseline attention modules, so that a decoder block holds either.
/// Input and output are (B, T, E); <c>startPos</c> is the position of the first token (rotary offset).
/// </summary>
public abstract class AttentionModule : nn.Module<Tensor, Tensor>
{
    protected AttentionModule(string name, int depth, RotaryEmbedding rotary) : base(name)
    {
        Depth = depth;
        Rotary = rotary;
    }

    /// <summary>Layer index counted from 0 (DIFF's λinit depends on it).</summary>
    public int Depth { get; }

    /// <summary>Shared rotary tables (not part of the state dict).</summary>
    public RotaryEmbedding Rotary { get; }

    /// <summary>Explicit, fused or blocked core. A forward that is asked for maps always runs the explicit core.</summary>
    public AttentionKernel Kernel { get; set; } = AttentionKernel.Fused;

    /// <summary>Number of softmax maps per token row: 2H for both architectures.</summary>
    public abstract int NumMaps { get; }

    public override Tensor forward(Tensor x) => Forward(x);

    /// <summary>
    /// Causal self-attention over x: (B, T, E) → (B, T, E).
    /// When <paramref name="capture"/> is given, the explicit core runs and records this layer's maps.
    /// With a <paramref name="cache"/>, the new keys and values are appended to it and the T queries attend to all
    /// S = cache length + T positions; <paramref name="startPos"/> must then equal the cache's length.
    /// </summary>
    public abstract Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null);

    /// <summary>
    /// Whether this forward runs the blocked kernel: chosen, no maps wanted, CPU float32 with SIMD-sized head widths,
    /// and not a case the other paths serve better or the kernel does not cover (single-token decoding over a cache,
    /// left-padded batches).
    /// </summary>
    protected bool UsesBlockedKernel(Tensor x, long t, LayerKvCache? cache, bool wantMaps, int headDim, int valueDim) =>
        Kernel == AttentionKernel.Blocked && !wantMaps && !(t == 1 && cache is not null) && cache?.Owner.LeftPadding is null
        && Kernels.BlockedAttention.Supports(x.device_type, x.dtype, headDim, valueDim);

    /// <summary>Refuses a cache whose length is not the position of the first new token.</summary>
    protected void CheckCache(LayerKvCache? cache, long startPos)
    {
        if (cache is not null && cache.Length != startPos)
            throw new ArgumentException($"layer {Depth}: startPos {startPos} differs from the KV cache's length {cache.Length}; a cached forward continues where the cache ends");
    }

    /// <summary>
    /// Causal softmax of (…, T, S) logits in float32 (see <see cref="CausalSoftmax"/>), or, with a
    /// <paramref name="blocked"/> mask (true = hidden, broadcast against the logits), the softmax of the unblocked keys.
    /// </summary>
    protected static Tensor MaskedSoftmax(Tensor logits, Tensor? blocked)
    {
        if (blocked is null) return CausalSoftmax(logits);
        using var scope = NewDisposeScope();
        var probs = logits.masked_fill(blocked, float.NegativeInfinity).softmax(-1, ScalarType.Float32).to_type(logits.dtype);
        return probs.MoveToOuterDisposeScope();
    }

    /// <summary>Logits with hidden positions set to −∞ (what a capture records).</summary>
    protected static Tensor MaskLogits(Tensor logits, Tensor? blocked) =>
        logits.masked_fill(blocked ?? FutureMask(logits.shape[^2], logits.shape[^1], logits.device), float.NegativeInfinity);

    /// <summary>
    /// scaled_dot_product_attention of q (…, T, d) over k, v (…, S, ·) with the causal rule aligned bottom-right
    /// (query t sits at position S − T + t): no mask for one query, SDPA's own causal flag when T = S (its flag is
    /// top-left aligned, right only then), an explicit boolean mask when a cached prefix makes S &gt; T, and
    /// <paramref name="blocked"/> (true = hidden) when the cache has padding.
    /// </summary>
    protected static Tensor Sdpa(Tensor q, Tensor k, Tensor v, Tensor? blocked)
    {
        using var scope = NewDisposeScope();
        long t = q.shape[^2], s = k.shape[^2];
        Tensor o;
        if (blocked is not null) o = F.scaled_dot_product_attention(q, k, v, attn_mask: blocked.logical_not());
        else if (t == 1) o = F.scaled_dot_product_attention(q, k, v);
        else if (t == s) o = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else o = F.scaled_dot_product_attention(q, k, v, attn_mask: FutureMask(t, s, q.device).logical_not());
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>Causal softmax of (…, T, S) logits in float32 (query t sees keys ≤ S − T + t), returned in the logits' dtype.</summary>
    protected static Tensor CausalSoftmax(Tensor logits)
    {
        using var scope = NewDisposeScope();
        long t = logits.shape[^2], s = logits.shape[^1];
        var masked = logits.masked_fill(FutureMask(t, s, logits.device), float.NegativeInfinity);
        var probs = masked.softmax(-1, ScalarType.Float32).to_type(logits.dtype);
        return probs.MoveToOuterDisposeScope();
    }

    /// <summary>(T, S) boolean mask, true where query t (at position S − T + t) would see a future key.</summary>
    protected static Tensor FutureMask(long t, long s, Device device) =>
        ones(t, s, dtype: ScalarType.Bool, device: device).triu(1 + (s - t));

    /// <summary>
    /// Repeats KV heads for grouped-query attention: (B, Hkv, G, S, w) → (B, Hkv·nRep·G, S, w), so that
    /// query head h reads KV group h / nRep (the flash files' pairing). G groups sub-heads that travel together.
    /// </summary>
    protected static Tensor RepeatKv(Tensor kv, long nRep)
    {
        long b = kv.shape[0], hkv = kv.shape[1], g = kv.shape[2], s = kv.shape[3], w = kv.shape[4];
        if (nRep == 1) return kv.reshape(b, hkv * g, s, w);
        return kv.unsqueeze(2).expand(b, hkv, nRep, g, s, w).reshape(b, hkv * nRep * g, s, w);
    }
}
