using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>One model configuration: training-step and prefill times per round.</summary>
public sealed record ModelMeasurement(Architecture Arch, AttentionKernel Kernel)
{
    public List<double> StepSeconds { get; } = [];
    public List<double> PrefillSeconds { get; } = [];
    public long? StepPeakBytes { get; set; }
    public double StepMedian => Stats.Median(StepSeconds);
    public double PrefillMedian => Stats.Median(PrefillSeconds);
}
