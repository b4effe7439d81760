using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Statistics of activations streamed in chunks, without keeping them: the <see cref="TopK"/> largest absolute values
/// (exact), the count and central moments of the signed values (merged chunk by chunk with Pébay's formulas, in double
/// precision: exact up to rounding), and a histogram of |x| with <see cref="BinsPerOctave"/> log-spaced bins per power
/// of two over [2^<see cref="MinExponent"/>, 2^<see cref="MaxExponent"/>), plus one bin below (zero included) and one
/// above. The median |x| (the lower median: rank ⌈n/2⌉ in ascending order) is the geometric centre of the bin that
/// holds it, so it is within a factor 1 ± <see cref="MedianRelativeError"/> of the exact value; a median below
/// 2^<see cref="MinExponent"/> is reported as 0. Results do not depend on how the values are cut into chunks, except
/// for the rounding of the moments.
/// </summary>
public sealed class MagnitudeAccumulator
{
    public const int TopK = 100;
    public const int BinsPerOctave = 512;
    public const int MinExponent = -64;
    public const int MaxExponent = 64;

    /// <summary>Bins per octave of the histogram a report carries (<see cref="MagnitudeStats.Histogram"/>).</summary>
    public const int ReportBinsPerOctave = 8;

    /// <summary>The bound on the median's relative error: half a bin, 2^(1 / (2 · <see cref="BinsPerOctave"/>)) − 1 ≈ 0.068%.</summary>
    public static double MedianRelativeError { get; } = Math.Pow(2, 1.0 / (2 * BinsPerOctave)) - 1;

    private const int Octaves = MaxExponent - MinExponent;
    private readonly long[] bins = new long[Octaves * BinsPerOctave + 2];     // [0]: below 2^MinExponent; [^1]: 2^MaxExponent and above
    private readonly PriorityQueue<double, double> top = new();               // the TopK largest |x|, smallest first
    private double mean, m2, m3, m4;

    /// <summary>Values added so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds every element of <paramref name="values"/> (any shape, any floating dtype). NaN is refused.</summary>
    public void Add(Tensor values)
    {
        using var scope = NewDisposeScope();
        var x = values.detach().flatten().to_type(ScalarType.Float64);
        long n = x.numel();
        if (n == 0) return;
        if (x.isnan().any().item<bool>()) throw new ArgumentException("the activations hold NaN: the model's forward is not finite");
        var a = x.abs();

        foreach (double v in a.topk((int)Math.Min(TopK, n)).values.data<double>().ToArray()) Offer(v);

        // bin i ≥ 1 holds 2^(MinExponent + (i − 1) / R) ≤ |x| < 2^(MinExponent + i / R); log2(0) = −∞ lands in bin 0
        // Scalars held to the end (RMSNorm says why TorchSharp's implicit ones are not safe)
        using var perOctave = ((double)BinsPerOctave).ToScalar();
        using var offset = ((double)(1 - MinExponent * BinsPerOctave)).ToScalar();
        using var lowest = 0.0.ToScalar();
        using var highest = ((double)(bins.Length - 1)).ToScalar();
        var index = a.log2().mul(perOctave).floor().add(offset, Scalars.Of(1)).clamp(lowest, highest);
        var counts = index.to_type(ScalarType.Int64).bincount(null, bins.Length).data<long>().ToArray();
        for (int i = 0; i < bins.Length; i++) bins[i] += counts[i];

        double mb = x.mean().item<double>();
        using var meanScalar = mb.ToScalar();
        var d = x.sub(meanScalar);
        var d2 = d.mul(d);
        Merge(n, mb, d2.sum().item<double>(), d2.mul(d).sum().item<double>(), d2.mul(d2).sum().item<double>());
    }

    /// <summary>Adds everything <paramref name="other"/> holds (exactly as if its values had been added here).</summary>
    public void Merge(MagnitudeAccumulator other)
    {
        foreach (var (v, _) in other.top.UnorderedItems) Offer(v);
        for (int i = 0; i < bins.Length; i++) bins[i] += other.bins[i];
        if (other.Count > 0) Merge(other.Count, other.mean, other.m2, other.m3, other.m4);
    }

    private void Offer(double v)
    {
        if (top.Count < TopK) top.Enqueue(v, v);
        else if (v > top.Peek()) top.EnqueueDequeue(v, v);
    }

    /// <summary>Pébay (2008): the count, mean and central moment sums M2, M3, M4 of the union of two sets.</summary>
    private void Merge(long nb, double meanB, double m2b, double m3b, double m4b)
    {
        double na = Count, n = na + nb, delta = meanB - mean, d2 = delta * delta;
        double m2a = m2, m3a = m3;
        mean += delta * nb / n;
        m2 = m2a + m2b + d2 * na * nb / n;
        m3 = m3a + m3b + d2 * delta * na * nb * (na - nb) / (n * n) + 3 * delta * (na * m2b - nb * m2a) / n;
        m4 = m4 + m4b + d2 * d2 * na * nb * (na * na - na * nb + (double)nb * nb) / (n * n * n)
             + 6 * d2 * (na * na * m2b + (double)nb * nb * m2a) / (n * n) + 4 * delta * (na * m3b - nb * m3a) / n;
        Count += nb;
    }

    /// <summary>The lower edge of bin <paramref name="i"/> (0 for the bottom bin).</summary>
    private static double Lower(int i) => i == 0 ? 0 : Math.Pow(2, MinExponent + (i - 1) / (double)BinsPerOctave);

    /// <summary>The median |x| (rank ⌈n/2⌉): the geometric centre of its bin; 0 below the histogram, +∞ above it; NaN when empty.</summary>
    public double Median()
    {
        if (Count == 0) return double.NaN;
        long rank = (Count + 1) / 2, seen = 0;
        for (int i = 0; i < bins.Length; i++)
        {
            seen += bins[i];
            if (seen < rank) continue;
            if (i == 0) return 0;
            if (i == bins.Length - 1) return double.PositiveInfinity;
            return Math.Pow(2, MinExponent + (i - 0.5) / BinsPerOctave);
        }
        throw new InvalidOperationException("the histogram holds fewer values than the count");
    }

    /// <summary>The largest |x|, largest first (at most <see cref="TopK"/>).</summary>
    public IReadOnlyList<double> Largest() => top.UnorderedItems.Select(e => e.Element).OrderDescending().ToList();

    /// <summary>
    /// The histogram with <paramref name="binsPerOctave"/> bins per octave (a divisor of <see cref="BinsPerOctave"/>),
    /// empty bins left out; the bottom bin starts at 0 and the top one ends at +∞.
    /// </summary>
    public IReadOnlyList<HistogramBin> Histogram(int binsPerOctave = ReportBinsPerOctave)
    {
        if (binsPerOctave < 1 || BinsPerOctave % binsPerOctave != 0)
            throw new ArgumentException($"bins per octave must divide {BinsPerOctave}, got {binsPerOctave}");
        int group = BinsPerOctave / binsPerOctave;
        var result = new List<HistogramBin>();
        if (bins[0] > 0) result.Add(new HistogramBin(0, Lower(1), bins[0]));
        for (int start = 1; start < bins.Length - 1; start += group)
        {
            long c = 0;
            for (int i = start; i < start + group; i++) c += bins[i];
            if (c > 0) result.Add(new HistogramBin(Lower(start), Lower(start + group), c));
        }
        if (bins[^1] > 0) result.Add(new HistogramBin(Lower(bins.Length - 1), double.PositiveInfinity, bins[^1]));
        return result;
    }

    /// <summary>The figures of everything added.</summary>
    public MagnitudeStats Summary()
    {
        var largest = Largest();
        double Top(int k) => largest.Count >= k ? largest[k - 1] : double.NaN;
        double variance = Count > 0 ? m2 / Count : double.NaN;
        double kurtosis = m2 > 0 ? Count * m4 / (m2 * m2) : double.NaN;
        return new MagnitudeStats(Count, Top(1), Top(2), Top(3), Top(10), Top(100), Median(),
            Count > 0 ? mean : double.NaN, Math.Sqrt(variance), kurtosis, Histogram());
    }
}
