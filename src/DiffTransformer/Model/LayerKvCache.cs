using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// One layer's keys (B, Hk, capacity, dk) and values (B, Hv, capacity, dv), of which the first
/// <see cref="Length"/> positions are in use. DIFF: Hk = 2Hkv sub-heads of width d (rotated), Hv = Hkv heads of
/// width 2d. Baseline: Hk = Hv = 2Hkv heads of width d. The buffers are owned by this object.
/// </summary>
public sealed class LayerKvCache : IDisposable
{
    /// <summary>Smallest allocation when no capacity was given.</summary>
    public const long MinimumCapacity = 64;

    private readonly KvCache owner;
    private readonly long initialCapacity;
    private Tensor? keys;
    private Tensor? values;

    internal LayerKvCache(KvCache owner, int layer, long initialCapacity)
    {
        this.owner = owner;
        Layer = layer;
        this.initialCapacity = initialCapacity;
    }

    public int Layer { get; }

    /// <summary>Positions in use.</summary>
    public long Length { get; private set; }

    /// <summary>Positions allocated.</summary>
    public long Capacity => keys?.shape[2] ?? 0;

    /// <summary>How many times the buffers were allocated (1 when the initial capacity sufficed).</summary>
    public int Allocations { get; private set; }

    public long AllocatedBytes => keys is null || values is null ? 0 : (keys.NumberOfElements + values.NumberOfElements) * keys.ElementSize;

    /// <summary>The owning cache (for its padding mask).</summary>
    public KvCache Owner => owner;

    /// <summary>Keys in use, (B, Hk, S, dk), a view of the buffer; null before the first append.</summary>
    public Tensor? Keys => keys?.narrow(2, 0, Length);

    /// <summary>Values in use, (B, Hv, S, dv), a view of the buffer; null before the first append.</summary>
    public Tensor? Values => values?.narrow(2, 0, Length);

    /// <summary>
    /// Stores the new positions' keys (B, Hk, T, dk) and values (B, Hv, T, dv) after the held ones and returns views
    /// of all S = Length + T positions: keys (B, Hk, S, dk), values (B, Hv, S, dv). The views are created in the
    /// caller's dispose scope; the buffers stay with the cache.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        if (k.dim() != 4 || v.dim() != 4)
            throw new ArgumentException($"keys and values must be (B, heads, T, width), got [{string.Join(", ", k.shape)}] and [{string.Join(", ", v.shape)}]");
        long b = k.shape[0], t = k.shape[2];
        if (v.shape[0] != b || v.shape[2] != t)
            throw new ArgumentException($"keys [{string.Join(", ", k.shape)}] and values [{string.Join(", ", v.shape)}] disagree on batch or time");
        if (owner.BatchSize is long ob && ob != b)
            throw new ArgumentException($"the cache holds a batch of {ob} rows, this forward has {b}");
        owner.BatchSize = b;
        if (keys is not null && values is not null)
        {
            if (keys.shape[1] != k.shape[1] || keys.shape[3] != k.shape[3] || values.shape[1] != v.shape[1] || values.shape[3] != v.shape[3])
                throw new ArgumentException($"layer {Layer}: the cache holds keys [.., {keys.shape[1]}, S, {keys.shape[3]}] and values [.., {values.shape[1]}, S, {values.shape[3]}], " +
                                            $"the forward gives [{string.Join(", ", k.shape)}] and [{string.Join(", ", v.shape)}] (another model?)");
            if (keys.dtype != k.dtype || keys.device_type != k.device_type || keys.device_index != k.device_index)
                throw new ArgumentException($"layer {Layer}: the cache holds {keys.dtype} on {keys.device}, the forward gives {k.dtype} on {k.device}");
        }
        long needed = Length + t;
        if (needed > Capacity) Grow(needed, k, v);
        using (no_grad())
        {
            keys!.narrow(2, Length, t).copy_(k);
            values!.narrow(2, Length, t).copy_(v);
        }
        Length = needed;
        return (keys!.narrow(2, 0, Length), values!.narrow(2, 0, Length));
    }

    /// <summary>Reallocates to max(needed, 2·capacity, initial, 64) positions and copies the held ones.</summary>
    private void Grow(long needed, Tensor k, Tensor v)
    {
        long cap = Math.Max(needed, Math.Max(2 * Capacity, initialCapacity > 0 ? initialCapacity : MinimumCapacity));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var nk = empty([k.shape[0], k.shape[1], cap, k.shape[3]], dtype: k.dtype, device: k.device);   // (B, Hk, cap, dk)
        var nv = empty([v.shape[0], v.shape[1], cap, v.shape[3]], dtype: v.dtype, device: v.device);   // (B, Hv, cap, dv)
        if (keys is not null && values is not null && Length > 0)
        {
            nk.narrow(2, 0, Length).copy_(keys.narrow(2, 0, Length));
            nv.narrow(2, 0, Length).copy_(values.narrow(2, 0, Length));
        }
        keys?.Dispose();
        values?.Dispose();
        keys = nk.DetachFromDisposeScope();
        values = nv.DetachFromDisposeScope();
        Allocations++;
    }

    /// <summary>
    /// Fills this empty layer with <paramref name="rows"/> copies of the single row <paramref name="source"/> holds, in
    /// buffers of at least <paramref name="capacity"/> positions (see <see cref="KvCache.Expand"/>).
    /// </summary>
    internal void CopyRepeated(LayerKvCache source, long rows, long capacity)
    {
        if (source.keys is null || source.values is null || source.Length == 0) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var k = source.keys.narrow(2, 0, source.Length);                               // (1, Hk, S, dk)
        var v = source.values.narrow(2, 0, source.Length);                             // (1, Hv, S, dv)
        long cap = Math.Max(capacity, source.Length);
        var nk = empty([rows, k.shape[1], cap, k.shape[3]], dtype: k.dtype, device: k.device);
        var nv = empty([rows, v.shape[1], cap, v.shape[3]], dtype: v.dtype, device: v.device);
        nk.narrow(2, 0, source.Length).copy_(k.expand(rows, -1, -1, -1));
        nv.narrow(2, 0, source.Length).copy_(v.expand(rows, -1, -1, -1));
        keys?.Dispose();
        values?.Dispose();
        keys = nk.DetachFromDisposeScope();
        values = nv.DetachFromDisposeScope();
        Length = source.Length;
        Allocations++;
    }

    /// <summary>Forgets the held positions; the buffers are kept.</summary>
    public void Reset() => Length = 0;

    public void Dispose()
    {
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
        Length = 0;
    }
}
