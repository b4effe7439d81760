using static TorchSharp.torch;

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
    public AttentionKernel Kernel { get; set; } = AttentionKernel.Blocked;

    /// <summary>
    /// Quantisation of the attention logits before the softmax (<see cref="LogitQuantization"/>); null (the default):
    /// full precision, the forward untouched. When set, every forward runs the explicit core, whatever the kernel.
    /// </summary>
    public LogitQuantization? Quantization { get; set; }

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
    /// One new token for each of the B sequences of <paramref name="cache"/>, x (B, 1, E) → (B, 1, E): row b continues
    /// slot b at that slot's length (sequences of different lengths: what continuous batching needs). Call between
    /// the cache's BeginStep and EndStep (<see cref="LanguageModel.DecodeBatch"/> does).
    /// </summary>
    public abstract Tensor DecodeBatch(Tensor x, BatchKvCache cache);

    /// <summary>
    /// The common part of <see cref="DecodeBatch"/>: given the batch's projections q (B, 1, hq, dq), k (B, 1, hk, dk),
    /// v (B, 1, hv, dv), rotates row b at its slot's length, writes its key and value into the slot and returns
    /// q (B, hq, 1, dq), all held keys (B, hk, S, dk) and values (B, hv, S, dv), and the mask (B, 1, 1, S) hiding
    /// each row's positions past its new token — the inputs of the decode cores.
    /// </summary>
    protected (Tensor Q, Tensor Keys, Tensor Values, Tensor Mask) DecodeBatchInputs(Tensor q, Tensor k, Tensor v, BatchKvCache cache)
    {
        if (q.shape[0] != cache.Count) throw new ArgumentException($"layer {Depth}: {q.shape[0]} rows but {cache.Count} sequences in the cache");
        if (Quantization is not null) throw new NotSupportedException($"layer {Depth}: a batched decode does not quantise the attention logits (decode each sequence alone)");
        q = Rotary.ApplyAt(q, cache.Lengths);                               // (B, 1, hq, dq)
        k = Rotary.ApplyAt(k, cache.Lengths);                               // (B, 1, hk, dk)
        var (keys, values, mask) = cache.Append(Depth, k.transpose(1, 2), v.transpose(1, 2)); // (B, hk, S, dk), (B, hv, S, dv), (B, 1, 1, S)
        return (q.transpose(1, 2), keys, values, mask);
    }

    /// <summary>
    /// Whether this forward runs the explicit core: chosen, asked for maps, or quantising the logits.
    /// </summary>
    protected bool UsesExplicitCore(bool wantMaps) => Kernel == AttentionKernel.Explicit || wantMaps || Quantization is not null;

    /// <summary>
    /// Whether this forward runs the blocked kernel: chosen, no maps wanted, no quantisation, CPU float32 with SIMD-sized head widths,
    /// and not a case the other paths serve better or the kernel does not cover (single-token decoding over a cache,
    /// left-padded batches).
    /// </summary>
    protected bool UsesBlockedKernel(Tensor x, long t, LayerKvCache? cache, bool wantMaps, int headDim, int valueDim) =>
        Kernel == AttentionKernel.Blocked && !UsesExplicitCore(wantMaps) && !(t == 1 && cache is not null) && cache?.Owner.LeftPadding is null
        && Kernels.BlockedAttention.Supports(x.device_type, x.dtype, headDim, valueDim);

    /// <summary>Refuses a cache whose length is not the position of the first new token.</summary>
    protected void CheckCache(LayerKvCache? cache, long startPos)
    {
        if (cache is not null && cache.Length != startPos)
            throw new ArgumentException($"layer {Depth}: startPos {startPos} differs from the KV cache's length {cache.Length}; a cached forward continues where the cache ends");
    }

    /// <summary>
    /// Appends keys and values given in the projections' (B, T, heads, width) layout to <paramref name="cache"/> and
    /// returns all S held positions in that layout (B, S, heads, width); without a cache, returns them unchanged.
    /// </summary>
    protected static (Tensor Keys, Tensor Values) AppendProjected(LayerKvCache? cache, Tensor k, Tensor v)
    {
        if (cache is null) return (k, v);
        var (kc, vc) = cache.Append(k.transpose(1, 2), v.transpose(1, 2)); // (B, Hk, S, dk), (B, Hv, S, dv)
        return (kc.transpose(1, 2), vc.transpose(1, 2));                   // (B, S, Hk, dk), (B, S, Hv, dv)
    }
}
