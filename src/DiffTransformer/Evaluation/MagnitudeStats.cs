namespace DiffTransformer.Evaluation;

/// <summary>
/// The magnitudes of a set of activations (docs/EVALUATION.md, "eval outliers"): the largest absolute values (the
/// paper's Table 5 columns), the median absolute value (from a log-spaced histogram, within
/// <see cref="MagnitudeAccumulator.MedianRelativeError"/>), their ratio, and the signed values' mean, standard deviation
/// and kurtosis. A top-k figure of fewer than k values is NaN.
/// </summary>
public sealed record MagnitudeStats(
    long Count, double Top1, double Top2, double Top3, double Top10, double Top100, double Median,
    double Mean, double Std, double Kurtosis, IReadOnlyList<HistogramBin> Histogram)
{
    /// <summary>Top-1 / median: how far the largest value stands out.</summary>
    public double TopToMedian => Top1 / Median;
}
