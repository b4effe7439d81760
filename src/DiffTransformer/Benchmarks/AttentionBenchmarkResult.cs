using System.Diagnostics;
using DiffTransformer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

public sealed record AttentionBenchmarkResult(AttentionBenchmarkOptions Options, IReadOnlyList<AttentionMeasurement> Measurements,
    int Threads, string Machine, string LoadBefore, string LoadAfter)
{
    public AttentionMeasurement? Find(Architecture arch, AttentionKernel kernel, int t, bool backward) =>
        Measurements.FirstOrDefault(m => m.Arch == arch && m.Kernel == kernel && m.SeqLen == t && m.Backward == backward && m.Seconds.Count > 0);

    /// <summary>
    /// tokens/s of a over tokens/s of b, when both were measured: the median over rounds of the ratio within each
    /// round (the two ran minutes apart at most, under similar load), which a neighbour's load disturbs less than a
    /// ratio of medians.
    /// </summary>
    public double? Ratio(AttentionMeasurement? a, AttentionMeasurement? b) => a is null || b is null ? null : Paired.Ratio(b.Seconds, a.Seconds);
}
