using System.Diagnostics;
using DiffTransformer.Model;
using DiffTransformer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

public sealed record ModelBenchmarkResult(ModelBenchmarkOptions Options, IReadOnlyList<ModelMeasurement> Measurements, IReadOnlyList<double> GemmSeconds,
    (long M, long K, long N) GemmShape, int Threads, string Machine, string LoadBefore, string LoadAfter)
{
    public long Tokens => (long)Options.Batch * Options.SeqLen;

    public double TrainTokensPerSecond(ModelMeasurement m) => Tokens / m.StepMedian;
    public double PrefillTokensPerSecond(ModelMeasurement m) => Tokens / m.PrefillMedian;

    /// <summary>Model FLOPs of one training step (see <see cref="FlopCount"/>) over its median time, in GFLOP/s.</summary>
    public double TrainGflops(ModelMeasurement m) =>
        FlopCount.TrainingStep(Options.Config with { Arch = m.Arch }, Options.Batch, Options.SeqLen) / m.StepMedian / 1e9;

    /// <summary>The bare float32 GEMM's GFLOP/s (median over the rounds, measured between the model runs).</summary>
    public double GemmGflops => 2.0 * GemmShape.M * GemmShape.K * GemmShape.N / Stats.Median(GemmSeconds) / 1e9;

    /// <summary>
    /// Training GFLOP/s as a fraction of the GEMM's: the median over rounds of the fraction within each round (the GEMM
    /// runs right after that round's steps, under the same load).
    /// </summary>
    public double GemmFraction(ModelMeasurement m)
    {
        double flops = FlopCount.TrainingStep(Options.Config with { Arch = m.Arch }, Options.Batch, Options.SeqLen);
        double gemmFlops = 2.0 * GemmShape.M * GemmShape.K * GemmShape.N;
        int n = Math.Min(m.StepSeconds.Count, GemmSeconds.Count);
        return Stats.Median(Enumerable.Range(0, n).Select(r => flops / m.StepSeconds[r] / (gemmFlops / GemmSeconds[r])).ToList());
    }

    public ModelMeasurement? Find(Architecture arch, AttentionKernel kernel) =>
        Measurements.FirstOrDefault(m => m.Arch == arch && m.Kernel == kernel && m.StepSeconds.Count > 0);
}
