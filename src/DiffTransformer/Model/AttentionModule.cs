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
    /// One new token for each of B independent sequences, x (B, 1, E) → (B, 1, E): row b continues
    /// <paramref name="caches"/>[b] (a batch-1 cache of its own, of any length), at that cache's length, and appends its
    /// key and value there. The projections run on the whole batch; attention runs per row against the row's own cache
    /// (what continuous batching needs: sequences of different lengths joining and leaving the batch at any step).
    /// </summary>
    public abstract Tensor DecodeRows(Tensor x, IReadOnlyList<LayerKvCache> caches);

    /// <summary>
    /// The per-row part of <see cref="DecodeRows"/>: given the batch's projections q (B, 1, hq, dq), k (B, 1, hk, dk),
    /// v (B, 1, hv, dv), rotates row b at its cache's length, appends its key and value to its cache and runs
    /// <paramref name="core"/> (q (1, hq, 1, dq), keys (1, hk, S_b, dk), values (1, hv, S_b, dv) → (1, h, 1, w)) on it
    /// alone — the same call a single-sequence decode makes; returns the rows stacked, (B, h, 1, w).
    /// </summary>
    protected Tensor DecodeEachRow(Tensor q, Tensor k, Tensor v, IReadOnlyList<LayerKvCache> caches, Func<Tensor, Tensor, Tensor, Tensor> core)
    {
        long b = q.shape[0];
        if (caches.Count != b) throw new ArgumentException($"layer {Depth}: {b} rows but {caches.Count} caches");
        var positions = caches.Select(c => c.Length).ToArray();
        q = Rotary.ApplyAt(q, positions);                                   // (B, 1, hq, dq)
        k = Rotary.ApplyAt(k, positions);                                   // (B, 1, hk, dk)
        var rows = new Tensor[b];
        for (int i = 0; i < b; i++)
        {
            var (keys, values) = caches[i].Append(k.narrow(0, i, 1).transpose(1, 2), v.narrow(0, i, 1).transpose(1, 2)); // (1, hk, S, dk), (1, hv, S, dv)
            rows[i] = core(q.narrow(0, i, 1).transpose(1, 2), keys, values);                                        // (1, h, 1, w)
        }
        return cat(rows, 0);                                                // (B, h, 1, w)
    }

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
