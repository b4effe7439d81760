using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>One configuration: times per round, peak memory of one call.</summary>
public sealed record AttentionMeasurement(Architecture Arch, AttentionKernel Kernel, int SeqLen, int Batch, bool Backward)
{
    public List<double> Seconds { get; } = [];
    public long? PeakBytes { get; set; }
    public double MedianSeconds => Stats.Median(Seconds);
    public double TokensPerSecond => Batch * SeqLen / MedianSeconds;
    public string Mode => Backward ? "fwd+bwd" : "fwd";
}
