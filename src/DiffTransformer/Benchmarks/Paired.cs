namespace DiffTransformer.Benchmarks;

/// <summary>Ratios of paired timings: round r of one measurement against round r of another.</summary>
public static class Paired
{
    /// <summary>Median over rounds of numerator[r] / denominator[r] (seconds over seconds).</summary>
    public static double Ratio(IReadOnlyList<double> numerator, IReadOnlyList<double> denominator)
    {
        int n = Math.Min(numerator.Count, denominator.Count);
        return Stats.Median(Enumerable.Range(0, n).Select(r => numerator[r] / denominator[r]).ToList());
    }

    /// <summary>The smallest and largest per-round ratio, to show how much the load moved it.</summary>
    public static (double Min, double Max) Range(IReadOnlyList<double> numerator, IReadOnlyList<double> denominator)
    {
        int n = Math.Min(numerator.Count, denominator.Count);
        var r = Enumerable.Range(0, n).Select(i => numerator[i] / denominator[i]).ToList();
        return (r.Min(), r.Max());
    }
}
