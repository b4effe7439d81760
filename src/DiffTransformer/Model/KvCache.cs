using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Keys and values of every layer for incremental decoding: prefill the prompt once, then feed one token at a
/// time; each step attends to the stored prefix instead of recomputing it, so a decoded token costs O(context).
/// <para>
/// Layout per layer (see <see cref="LayerKvCache"/>): DIFF stores the rotated keys of both sub-head groups,
/// (B, 2Hkv, S, d) with sub-heads 2g, 2g+1 = K1, K2 of group g, and the 2d-wide values (B, Hkv, S, 2d);
/// the baseline stores (B, 2Hkv, S, d) keys and (B, 2Hkv, S, d) values. Buffers are preallocated and grow by
/// doubling, so appending a token is a copy into a slice, not a concatenation.
/// </para>
/// <para>
/// Batches of prompts of different lengths are left-padded: <see cref="LeftPadding"/> gives each row's number
/// of padding positions; no real query ever attends to them (a padding query sees only itself, so that no
/// softmax row is empty). Rotary attention depends only on relative positions, so a padded row gives the same
/// logits as the row alone (to float rounding).
/// </para>
/// The cache is for inference: stored keys and values are detached, so no gradient flows through cached
/// positions. A forward that throws part-way leaves the layers at different lengths; <see cref="Reset"/> it.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerKvCache[] layers;
    private readonly long[]? leftPadding;
    private Tensor? padRows;          // (B, 1) int64: padding positions per row
    private Tensor? hiddenMask;       // memoised mask of the current step, shared by all layers
    private (long Start, long T, long S) hiddenMaskKey = (-1, -1, -1);

    /// <param name="numLayers">L, one <see cref="LayerKvCache"/> per decoder block.</param>
    /// <param name="capacity">positions to preallocate (0: grow from 64 on demand). Pass prompt + new tokens to never grow.</param>
    /// <param name="leftPadding">per batch row, the number of padding positions before its prompt; null: none.</param>
    public KvCache(int numLayers, long capacity = 0, IReadOnlyList<long>? leftPadding = null)
    {
        if (numLayers <= 0) throw new ArgumentOutOfRangeException(nameof(numLayers), numLayers, "a cache needs at least one layer");
        if (capacity < 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be non-negative");
        if (leftPadding is not null)
        {
            if (leftPadding.Count == 0) throw new ArgumentException("left padding has no rows", nameof(leftPadding));
            foreach (long p in leftPadding)
                if (p < 0) throw new ArgumentOutOfRangeException(nameof(leftPadding), p, "left padding must be non-negative");
            if (leftPadding.Any(p => p > 0)) this.leftPadding = [.. leftPadding];
            BatchSize = leftPadding.Count;
        }
        layers = new LayerKvCache[numLayers];
        for (int i = 0; i < numLayers; i++) layers[i] = new LayerKvCache(this, i, capacity);
    }

    /// <summary>Number of layers.</summary>
    public int Count => layers.Length;

    public LayerKvCache this[int layer] => layers[layer];

    /// <summary>Positions held (the next token's position). Throws when the layers disagree (a forward failed part-way).</summary>
    public long Length
    {
        get
        {
            long n = layers[0].Length;
            foreach (var l in layers)
                if (l.Length != n)
                    throw new InvalidOperationException($"the KV cache is inconsistent: layer 0 holds {n} positions, layer {l.Layer} holds {l.Length} (a forward failed part-way); Reset it");
            return n;
        }
    }

    /// <summary>B, once known (from the left padding or the first forward).</summary>
    public long? BatchSize { get; internal set; }

    /// <summary>Per row, the padding positions before its prompt; null when no row is padded.</summary>
    public IReadOnlyList<long>? LeftPadding => leftPadding;

    /// <summary>Bytes held by the key and value buffers of all layers (their capacity, not only the used part).</summary>
    public long AllocatedBytes => layers.Sum(l => l.AllocatedBytes);

    /// <summary>
    /// A new cache of <paramref name="rows"/> rows, each a copy of this one-row cache's positions, with room for
    /// <paramref name="capacity"/> positions in all (at least those held): a shared prefix run once, then continued by
    /// several rows (right-padded continuations are safe, since no position sees a later one). Refuses a cache of more
    /// than one row or with padding.
    /// </summary>
    public KvCache Expand(long rows, long capacity = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        if (leftPadding is not null || (BatchSize is long b && b != 1))
            throw new InvalidOperationException($"only a one-row cache without padding can be expanded (this one holds {BatchSize} rows{(leftPadding is null ? "" : ", padded")})");
        long held = Length;
        var copy = new KvCache(layers.Length, Math.Max(capacity, held));
        for (int i = 0; i < layers.Length; i++) copy.layers[i].CopyRepeated(layers[i], rows, Math.Max(capacity, held));
        if (held > 0) copy.BatchSize = rows;
        return copy;
    }

    /// <summary>Forgets every position (keeps the buffers for reuse).</summary>
    public void Reset()
    {
        foreach (var l in layers) l.Reset();
        ClearMask();
    }

    /// <summary>
    /// (B, 1, T, S) boolean, true where query t (at position start + t) must not see key j: a future key, or a
    /// padding key other than itself. Null when no row is padded (then the plain causal rule applies).
    /// The tensor is owned by the cache and shared by the layers of one step; do not dispose it.
    /// </summary>
    internal Tensor? HiddenMask(long start, long t, long s, Device device)
    {
        if (leftPadding is null) return null;
        if (hiddenMaskKey == (start, t, s) && hiddenMask is not null) return hiddenMask;
        if (leftPadding.Length != BatchSize)
            throw new InvalidOperationException($"left padding has {leftPadding.Length} rows but the batch has {BatchSize}");
        ClearMask();
        using (NewDisposeScope())
        {
            padRows ??= tensor(leftPadding, dtype: ScalarType.Int64).view(-1, 1, 1).DetachFromDisposeScope(); // (B, 1, 1)
            var pads = padRows.to(device);
            using Scalar first = start.ToScalar(), end = (start + t).ToScalar(), keys = s.ToScalar(); // held (Kernels/Scalars.cs)
            var qpos = arange(first, end, Scalars.Of(1), dtype: ScalarType.Int64, device: device).view(1, t, 1);        // (1, T, 1)
            var kpos = arange(Scalars.Of(0L), keys, Scalars.Of(1), dtype: ScalarType.Int64, device: device).view(1, 1, s); // (1, 1, S)
            var future = kpos.gt(qpos);                                                                  // (1, T, S)
            var padKey = kpos.lt(pads).logical_and(kpos.ne(qpos));                                       // (B, T, S)
            hiddenMask = future.logical_or(padKey).unsqueeze(1).DetachFromDisposeScope();                   // (B, 1, T, S)
        }
        hiddenMaskKey = (start, t, s);
        return hiddenMask;
    }

    private void ClearMask()
    {
        hiddenMask?.Dispose();
        hiddenMask = null;
        hiddenMaskKey = (-1, -1, -1);
    }

    public void Dispose()
    {
        foreach (var l in layers) l.Dispose();
        ClearMask();
        padRows?.Dispose();
        padRows = null;
    }
}
