using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// The keys and values of several independent sequences of different lengths in shared buffers, one slot per sequence,
/// for continuous batching: per layer keys (slots, Hk, capacity, dk) and values (slots, Hv, capacity, dv) (layouts as in
/// <see cref="LayerKvCache"/>), slot i holding sequence i's positions 0 … length_i − 1. A decode step
/// (<see cref="LanguageModel.DecodeBatch"/>) writes each sequence's new key and value at its own length with one scatter
/// per layer and attends over the first max(length) + 1 positions of every slot, the positions past a sequence's end
/// hidden by a mask; so the step costs the same few operations for 1 or 16 sequences.
/// <para>
/// A sequence joins with <see cref="Add"/> (its prefilled batch-1 <see cref="KvCache"/> is copied into the next slot)
/// and leaves with <see cref="RemoveAt"/> (the last slot moves into its place, so slots 0 … Count − 1 stay the batch).
/// Every position past a slot's length, and every slot past <see cref="Count"/>, holds zeros: the buffers start zeroed
/// and a leaving sequence is wiped, so nothing it held (a NaN or infinity included) reaches the sequence that takes its
/// slot — a hidden position has weight 0, but 0 · NaN would be NaN. The buffers grow by doubling in slots and
/// positions, and are freed when the last sequence leaves. For inference only: nothing here carries gradients.
/// </para>
/// </summary>
public sealed class BatchKvCache : IDisposable
{
    private const long MinimumCapacity = 64;
    private const int MinimumSlots = 4;

    private readonly int numLayers;
    private readonly Tensor?[] keys;
    private readonly Tensor?[] values;
    private readonly List<long> lengths = [];
    private Tensor? stepMask;          // (B, 1, 1, S) of the current step, shared by the layers
    private Tensor? stepPositions;     // (B) int64: where each row's new key goes
    private int layersWritten;

    public BatchKvCache(int numLayers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        this.numLayers = numLayers;
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
    }

    /// <summary>Sequences held: slots 0 … Count − 1.</summary>
    public int Count => lengths.Count;

    /// <summary>Layers.</summary>
    public int Layers => numLayers;

    /// <summary>Positions held by each slot (the position of its next token).</summary>
    public IReadOnlyList<long> Lengths => lengths;

    /// <summary>Slots allocated.</summary>
    public long SlotCapacity => keys[0]?.shape[0] ?? 0;

    /// <summary>Positions allocated per slot.</summary>
    public long Capacity => keys[0]?.shape[2] ?? 0;

    /// <summary>Bytes held by the buffers of all layers.</summary>
    public long AllocatedBytes => keys.Zip(values).Sum(p => p.First is null || p.Second is null ? 0 : (p.First.NumberOfElements + p.Second.NumberOfElements) * p.First.ElementSize);

    /// <summary>Copies a prefilled sequence (a batch-1 cache without padding) into the next slot; returns that slot.</summary>
    public int Add(KvCache sequence)
    {
        if (sequence.Count != numLayers) throw new ArgumentException($"the cache has {sequence.Count} layers, this batch {numLayers}");
        if (sequence.BatchSize is > 1 || sequence.LeftPadding is not null) throw new ArgumentException("a sequence joins from a batch-1 cache without padding");
        long n = sequence.Length;
        if (n == 0) throw new ArgumentException("the sequence holds no positions (prefill it first)");
        CheckBetweenSteps();
        int slot = Count;
        for (int l = 0; l < numLayers; l++)
        {
            var k = sequence[l].Keys!;                                   // (1, Hk, n, dk)
            var v = sequence[l].Values!;                                 // (1, Hv, n, dv)
            Reserve(l, k, v, slot + 1, n + 1);
            using (no_grad())
            {
                keys[l]!.narrow(0, slot, 1).narrow(2, 0, n).copy_(k);
                values[l]!.narrow(0, slot, 1).narrow(2, 0, n).copy_(v);
            }
        }
        lengths.Add(n);
        return slot;
    }

    /// <summary>
    /// Takes the sequence in <paramref name="slot"/> out; the last slot's sequence moves into its place (returns the slot
    /// it moved from, or −1 when <paramref name="slot"/> was the last).
    /// </summary>
    public int RemoveAt(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Count);
        CheckBetweenSteps();
        int last = Count - 1;
        long n = lengths[last], cap = Capacity;
        using (no_grad())
            for (int l = 0; l < numLayers; l++)
                foreach (var buffer in new[] { keys[l]!, values[l]! })
                {
                    if (slot != last)
                    {
                        var into = buffer.narrow(0, slot, 1);
                        into.narrow(2, 0, n).copy_(buffer.narrow(0, last, 1).narrow(2, 0, n));
                        into.narrow(2, n, cap - n).zero_();   // what the leaving sequence held past n
                    }
                    buffer.narrow(0, last, 1).zero_();        // the freed slot
                }
        if (slot != last) lengths[slot] = n;
        lengths.RemoveAt(last);
        if (Count == 0) Free();
        return slot == last ? -1 : last;
    }

    /// <summary>
    /// Starts a decode step: makes room for one more position and builds the step's positions (each slot's length) and
    /// mask (B, 1, 1, S), S = max length + 1, true where a key is past that row's new token.
    /// </summary>
    internal void BeginStep()
    {
        if (Count == 0) throw new InvalidOperationException("the batch is empty");
        CheckBetweenSteps();
        long s = lengths.Max() + 1;
        var device = keys[0]!.device;
        for (int l = 0; l < numLayers; l++) Reserve(l, keys[l]!, values[l]!, Count, s);
        using (NewDisposeScope())
        {
            using var end = s.ToScalar();
            var pos = tensor(lengths.ToArray(), dtype: ScalarType.Int64, device: device);                     // (B)
            var mask = arange(Scalars.Of(0L), end, Scalars.Of(1), dtype: ScalarType.Int64, device: device).view(1, s).gt(pos.view(-1, 1)); // (B, S)
            stepPositions = pos.DetachFromDisposeScope();
            stepMask = mask.view(Count, 1, 1, s).DetachFromDisposeScope();
        }
        layersWritten = 0;
    }

    /// <summary>
    /// Writes one layer's new keys (B, Hk, 1, dk) and values (B, Hv, 1, dv) at each row's length; returns views of the
    /// first S positions of the B slots, keys (B, Hk, S, dk) and values (B, Hv, S, dv), and the step's mask.
    /// </summary>
    internal (Tensor Keys, Tensor Values, Tensor Mask) Append(int layer, Tensor k, Tensor v)
    {
        if (stepMask is null || stepPositions is null) throw new InvalidOperationException("BeginStep first");
        long b = Count, s = stepMask.shape[3];
        if (k.shape[0] != b || v.shape[0] != b || k.shape[2] != 1 || v.shape[2] != 1)
            throw new ArgumentException($"layer {layer}: one new position for each of {b} rows expected, got keys [{string.Join(", ", k.shape)}], values [{string.Join(", ", v.shape)}]");
        var kb = keys[layer]!.narrow(0, 0, b);                                    // (B, Hk, cap, dk)
        var vb = values[layer]!.narrow(0, 0, b);                                  // (B, Hv, cap, dv)
        using (no_grad())
        {
            var at = stepPositions.view(b, 1, 1, 1);
            kb.scatter_(2, at.expand(k.shape).contiguous(), k);
            vb.scatter_(2, at.expand(v.shape).contiguous(), v);
        }
        layersWritten++;
        return (kb.narrow(2, 0, s), vb.narrow(2, 0, s), stepMask);
    }

    /// <summary>Ends a decode step: every layer has written its row; each sequence is one position longer.</summary>
    internal void EndStep()
    {
        if (layersWritten != numLayers) throw new InvalidOperationException($"the step wrote {layersWritten} of {numLayers} layers");
        for (int i = 0; i < lengths.Count; i++) lengths[i]++;
        ClearStep();
    }

    /// <summary>Forgets a step that failed part-way (its rows hold a partly written position past their lengths, which no later step reads).</summary>
    internal void AbortStep() => ClearStep();

    private void CheckBetweenSteps()
    {
        if (stepMask is not null) throw new InvalidOperationException("a decode step is in progress");
    }

    private void ClearStep()
    {
        stepMask?.Dispose();
        stepPositions?.Dispose();
        stepMask = stepPositions = null;
        layersWritten = 0;
    }

    /// <summary>Grows layer <paramref name="l"/>'s buffers (shaped like k and v) to hold at least this many slots and positions.</summary>
    private void Reserve(int l, Tensor k, Tensor v, long slots, long positions)
    {
        var (ok, ov) = (keys[l], values[l]);
        long haveSlots = ok?.shape[0] ?? 0, haveCap = ok?.shape[2] ?? 0;
        if (slots <= haveSlots && positions <= haveCap) return;
        long newSlots = slots <= haveSlots ? haveSlots : Math.Max(slots, Math.Max(2 * haveSlots, MinimumSlots));
        long newCap = positions <= haveCap ? haveCap : Math.Max(positions, Math.Max(2 * haveCap, MinimumCapacity));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var nk = zeros([newSlots, k.shape[1], newCap, k.shape[3]], dtype: k.dtype, device: k.device);
        var nv = zeros([newSlots, v.shape[1], newCap, v.shape[3]], dtype: v.dtype, device: v.device);
        if (ok is not null && ov is not null && Count > 0)
        {
            nk.narrow(0, 0, Count).narrow(2, 0, haveCap).copy_(ok.narrow(0, 0, Count));
            nv.narrow(0, 0, Count).narrow(2, 0, haveCap).copy_(ov.narrow(0, 0, Count));
        }
        ok?.Dispose();
        ov?.Dispose();
        keys[l] = nk.DetachFromDisposeScope();
        values[l] = nv.DetachFromDisposeScope();
    }

    private void Free()
    {
        for (int l = 0; l < numLayers; l++)
        {
            keys[l]?.Dispose();
            values[l]?.Dispose();
            keys[l] = values[l] = null;
        }
    }

    public void Dispose()
    {
        ClearStep();
        Free();
        lengths.Clear();
    }
}
