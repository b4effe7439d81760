using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Interleaved rotary position embedding (GPT-J style, as the authors' flash kernels with
/// <c>interleaved=True</c>): dimensions (2i, 2i+1) of every d-wide head rotate together by the angle
/// <c>pos · θ^(−2i/d)</c>:
/// <c>o[2i] = x[2i]·cos − x[2i+1]·sin</c>, <c>o[2i+1] = x[2i+1]·cos + x[2i]·sin</c>.
/// Positions start at a caller-given offset, so cached decoding continues where the prefix ended.
/// Holds no parameters; its cos/sin tables are a cache owned by this object, grown on demand.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly object gate = new();
    private Tensor? cosTable;   // (len, d): cos θ_i repeated for both members of a pair
    private Tensor? sinTable;   // (len, d): −sin θ_i at 2i, +sin θ_i at 2i+1
    private readonly long initialLength;

    public int HeadDim { get; }

    /// <summary>How many times the tables were (re)built; for tests of the cache.</summary>
    internal int BuildCount { get; private set; }

    /// <summary>Rows in the current tables.</summary>
    internal long CachedLength => cosTable?.shape[0] ?? 0;
    public double Theta { get; }

    public RotaryEmbedding(int headDim, double theta, long initialLength = 0)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"rotary head dim must be positive and even, got {headDim}");
        HeadDim = headDim;
        Theta = theta;
        this.initialLength = Math.Max(0, initialLength);
    }

    /// <summary>cos and signed-sin rows for positions [offset, offset+count), each (count, d), on the given device and dtype.</summary>
    public (Tensor Cos, Tensor Sin) Tables(long offset, long count, Device device, ScalarType dtype)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, "position offset must be non-negative");
        lock (gate)
        {
            long needed = offset + count;
            bool usable = cosTable is not null && sinTable is not null && needed <= cosTable.shape[0] && cosTable.dtype == dtype
                          && cosTable.device_type == device.type && cosTable.device_index == device.index; // Device has no value equality
            if (!usable)
            {
                long current = cosTable?.shape[0] ?? 0;
                long grown = needed > current ? 2 * current : current; // grow geometrically, not token by token
                Build(Math.Max(needed, Math.Max(initialLength, grown)), device, dtype);
            }
            return (cosTable!.narrow(0, offset, count), sinTable!.narrow(0, offset, count));
        }
    }

    private void Build(long len, Device device, ScalarType dtype)
    {
        cosTable?.Dispose();
        sinTable?.Dispose();
        BuildCount++;
        using (NewDisposeScope())
        {
            int d = HeadDim;
            // Angles in float64 so that long positions stay exact; cast once at the end.
            using Scalar zero = 0.ToScalar(), width = d.ToScalar(), two = 2.ToScalar(), rate = (-Math.Log(Theta) / d).ToScalar(), length = len.ToScalar();
            var invFreq = arange(zero, width, two, dtype: ScalarType.Float64).mul(rate).exp_();     // (d/2): θ^(−2i/d)
            var pos = arange(zero, length, Scalars.Of(1), dtype: ScalarType.Float64);                 // (len)
            var ang = outer(pos, invFreq);                                                             // (len, d/2)
            var c = ang.cos();
            var s = ang.sin();
            var cosI = stack([c, c], -1).flatten(1);                                                  // (len, d)
            var sinI = stack([s.neg(), s], -1).flatten(1);                                            // (len, d)
            cosTable = cosI.to(dtype).to(device).contiguous().DetachFromDisposeScope();
            sinTable = sinI.to(dtype).to(device).contiguous().DetachFromDisposeScope();
        }
    }

    /// <summary>Rotates x: (B, T, nh, d), token t at position offset + t.</summary>
    public Tensor Apply(Tensor x, long offset)
    {
        using var scope = NewDisposeScope();
        CheckWidth(x);
        var (cos, sin) = Tables(offset, x.shape[1], x.device, x.dtype);                 // (T, d)
        return Rotate(x, cos.unsqueeze(1), sin.unsqueeze(1)).MoveToOuterDisposeScope(); // (B, T, nh, d)
    }

    /// <summary>
    /// Rotates one token per row, x: (B, 1, nh, d), row b at position <paramref name="positions"/>[b] (a batch of
    /// sequences of different lengths). Each row gets exactly the numbers <see cref="Apply"/> gives it alone.
    /// </summary>
    public Tensor ApplyAt(Tensor x, IReadOnlyList<long> positions)
    {
        using var scope = NewDisposeScope();
        CheckWidth(x);
        long b = x.shape[0], d = x.shape[3];
        if (x.shape[1] != 1 || positions.Count != b)
            throw new ArgumentException($"one token per row and one position per row expected, got x [{string.Join(", ", x.shape)}] and {positions.Count} positions");
        var (cos, sin) = Tables(0, positions.Max() + 1, x.device, x.dtype);             // (max + 1, d)
        var rows = tensor(positions.ToArray(), dtype: ScalarType.Int64, device: x.device); // (B)
        return Rotate(x, cos.index_select(0, rows).view(b, 1, 1, d), sin.index_select(0, rows).view(b, 1, 1, d)).MoveToOuterDisposeScope();
    }

    private void CheckWidth(Tensor x)
    {
        if (x.shape[3] != HeadDim) throw new ArgumentException($"rotary expects head dim {HeadDim}, got {x.shape[3]}");
    }

    /// <summary>x (B, T, nh, d) rotated by cos and signed sin that broadcast against it.</summary>
    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        long b = x.shape[0], t = x.shape[1], nh = x.shape[2], d = x.shape[3];
        var swapped = x.reshape(b, t, nh, d / 2, 2).flip(-1).reshape(b, t, nh, d);     // pairs swapped
        return x.mul(cos).add_(swapped.mul(sin), Scalars.Of(1));                        // (B, T, nh, d)
    }

    public void Dispose()
    {
        lock (gate)
        {
            cosTable?.Dispose();
            sinTable?.Dispose();
            cosTable = sinTable = null;
        }
    }
}
