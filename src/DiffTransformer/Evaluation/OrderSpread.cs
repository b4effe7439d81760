namespace DiffTransformer.Evaluation;

/// <summary>
/// Accuracies of one demonstration set under several orders: their mean, sample standard deviation
/// √(Σ(aᵢ − ā)² / (P − 1)) (0 for one order), best, worst and best − worst (the paper's Figure 7 measure).
/// </summary>
public sealed record OrderSpread(int Orders, double Mean, double Std, double Best, double Worst)
{
    public double BestMinusWorst => Best - Worst;

    /// <summary>The spread of <paramref name="accuracies"/>, one per order.</summary>
    public static OrderSpread Of(IReadOnlyList<double> accuracies)
    {
        if (accuracies.Count == 0) throw new ArgumentException("no accuracies to spread");
        double mean = accuracies.Average();
        double ss = accuracies.Sum(a => (a - mean) * (a - mean));
        return new OrderSpread(accuracies.Count, mean, accuracies.Count > 1 ? Math.Sqrt(ss / (accuracies.Count - 1)) : 0, accuracies.Max(), accuracies.Min());
    }

    /// <summary>Several sets' spreads summarised: each figure the mean of the sets' (so best − worst is the mean range within a set).</summary>
    public static OrderSpread MeanOf(IReadOnlyList<OrderSpread> sets)
    {
        if (sets.Count == 0) throw new ArgumentException("no sets to summarise");
        return new OrderSpread(sets[0].Orders, sets.Average(s => s.Mean), sets.Average(s => s.Std), sets.Average(s => s.Best), sets.Average(s => s.Worst));
    }
}
