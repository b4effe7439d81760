namespace DiffTransformer.Benchmarks;

/// <summary>Summary statistics of repeated timings.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>The nearest-rank <paramref name="p"/>-th percentile (0 &lt; p ≤ 100).</summary>
    public static double Percentile(IReadOnlyList<double> xs, double p)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        int rank = (int)Math.Ceiling(p / 100.0 * s.Length);
        return s[Math.Clamp(rank, 1, s.Length) - 1];
    }
}
