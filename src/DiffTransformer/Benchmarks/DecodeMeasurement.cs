namespace DiffTransformer.Benchmarks;

/// <summary>One measured configuration; times per repeat.</summary>
public sealed record DecodeMeasurement(bool Cached, int Context, int Tokens)
{
    /// <summary>The model variant timed (set by <see cref="DecodeBenchmark.Run"/>; the config's own when there is one).</summary>
    public (Model.Architecture Arch, Model.WeightFormat Weights) Variant { get; init; }

    public List<double> MsPerToken { get; } = [];
    public List<double> PrefillTokensPerSecond { get; } = [];

    public double Median => Stats.Median(MsPerToken);
    public double TokensPerSecond => 1000.0 / Median;
    public double? PrefillMedian => PrefillTokensPerSecond.Count > 0 ? Stats.Median(PrefillTokensPerSecond) : null;
    public string Mode => Cached ? "cached" : "recompute";
}
