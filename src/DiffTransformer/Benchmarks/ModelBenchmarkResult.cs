using DiffTransformer.Model;

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

    /// <summary>
    /// The report <c>difft bench model</c> prints, headed by <paramref name="command"/> (the command line that reruns it);
    /// <paramref name="name"/> names the configuration.
    /// </summary>
    public string ToMarkdown(string name, string command)
    {
        var w = new StringWriter();
        var c = Options.Config;
        BenchMarkdown.Header(w, command, Machine, LoadBefore, LoadAfter);
        w.WriteLine($"{name}: E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads} (d {c.HeadDim}), Hkv {c.KvHeads}, FFN {c.FfnHidden}, vocab {c.VocabSize}; " +
                    $"batch {Options.Batch} × T {Options.SeqLen} = {Tokens:N0} tokens per step; float32; {KernelNames.SimdNote(c.HeadDim, 2 * c.HeadDim)}; {Threads} threads; median of {Options.Repeats} rounds");
        w.WriteLine($"reference GEMM (B·T, E) × (E, FFN) = ({GemmShape.M}, {GemmShape.K}) × ({GemmShape.K}, {GemmShape.N}), libtorch matmul: {Fmt.F1(GemmGflops)} GFLOP/s " +
                    $"(rounds: {string.Join(", ", GemmSeconds.Select(s => Fmt.F1(2.0 * GemmShape.M * GemmShape.K * GemmShape.N / s / 1e9)))})");
        w.WriteLine();
        w.WriteLine("(% of GEMM: the median over rounds of the step's GFLOP/s over that round's GEMM GFLOP/s.)");
        w.WriteLine();
        w.WriteLine("| architecture | core | train tokens/s | prefill tokens/s | train GFLOP/s | % of GEMM | step peak MB | step s per round |");
        w.WriteLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var m in Measurements.Where(m => m.StepSeconds.Count > 0))
        {
            w.WriteLine($"| {Label(m.Arch)} | {KernelNames.Of(m.Kernel)} | {Fmt.N0(TrainTokensPerSecond(m))} | {Fmt.N0(PrefillTokensPerSecond(m))} | " +
                        $"{Fmt.F1(TrainGflops(m))} | {Fmt.F1(100 * GemmFraction(m))}% | {Fmt.Mb(m.StepPeakBytes)} | {string.Join(", ", m.StepSeconds.Select(Fmt.F2))} |");
        }
        w.WriteLine();
        w.WriteLine($"model FLOPs per training step (3 × forward, causal attention pairs T(T+1)/2): {Fmt.F1(FlopCount.TrainingStep(c with { Arch = Architecture.Diff }, Options.Batch, Options.SeqLen) / 1e9)} GFLOP for both architectures");
        w.WriteLine();
        w.WriteLine("Ratios of tokens/s: the median over rounds of the ratio within each round (its range beside it).");
        w.WriteLine();
        w.WriteLine("| ratio | train tokens/s | per-round range | prefill tokens/s |");
        w.WriteLine("|---|---:|---|---:|");
        void Row((Architecture Arch, AttentionKernel Kernel) a, (Architecture Arch, AttentionKernel Kernel) b)
        {
            if (Find(a.Arch, a.Kernel) is not { } x || Find(b.Arch, b.Kernel) is not { } y) return;
            var (lo, hi) = Paired.Range(y.StepSeconds, x.StepSeconds);
            w.WriteLine($"| {Label(a.Arch)} {KernelNames.Of(a.Kernel)} / {Label(b.Arch)} {KernelNames.Of(b.Kernel)} | {Fmt.Ratio(Paired.Ratio(y.StepSeconds, x.StepSeconds))} | " +
                        $"{Fmt.F2(lo)}–{Fmt.F2(hi)} | {Fmt.Ratio(Paired.Ratio(y.PrefillSeconds, x.PrefillSeconds))} |");
        }
        foreach (var k in Options.Kernels) Row((Architecture.Diff, k), (Architecture.Transformer, k));
        Row((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Transformer, AttentionKernel.Fused));
        Row((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Diff, AttentionKernel.Fused));
        w.WriteLine();
        return w.ToString();
    }

    private static string Label(Architecture arch) => BenchMarkdown.ArchLabel(arch, "Transformer");
}
