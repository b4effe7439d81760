using System.Diagnostics;
using DiffTransformer.Inference;
using DiffTransformer.Model;
using DiffTransformer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="ModelBenchmark.Run"/> measures: the whole model, DIFF and baseline, per attention core.</summary>
public sealed record ModelBenchmarkOptions
{
    /// <summary>The model shape; its <see cref="ModelConfig.Arch"/> is ignored (both architectures run).</summary>
    public required ModelConfig Config { get; init; }

    public int Batch { get; init; } = 4;
    public int SeqLen { get; init; } = 1024;
    public IReadOnlyList<Architecture> Archs { get; init; } = [Architecture.Diff, Architecture.Transformer];
    public IReadOnlyList<AttentionKernel> Kernels { get; init; } = [AttentionKernel.Fused, AttentionKernel.Blocked];

    /// <summary>Rounds; each runs every measurement once, in rotating order, and the tables give medians.</summary>
    public int Repeats { get; init; } = 3;

    public long Seed { get; init; }
}

/// <summary>One model configuration: training-step and prefill times per round.</summary>
public sealed record ModelMeasurement(Architecture Arch, AttentionKernel Kernel)
{
    public List<double> StepSeconds { get; } = [];
    public List<double> PrefillSeconds { get; } = [];
    public long? StepPeakBytes { get; set; }
    public double StepMedian => Stats.Median(StepSeconds);
    public double PrefillMedian => Stats.Median(PrefillSeconds);
}

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

/// <summary>
/// Whole-model throughput, DIFF against the Transformer on the same shape and data: a training step as the trainer
/// takes it (forward, cross-entropy, backward, gradient clipping, AdamW update, zeroing) and an inference prefill
/// (no_grad forward of the same B × T tokens). A bare float32 GEMM of the model's largest product,
/// (B·T, E) × (E, FFN), runs in every round beside them: the reference for the achieved GFLOP/s.
/// </summary>
public static class ModelBenchmark
{
    public static ModelBenchmarkResult Run(ModelBenchmarkOptions o, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var cfg = o.Config.Validate();
        if (o.Repeats < 1 || o.Batch < 1 || o.SeqLen < 2) throw new ArgumentException($"repeats ({o.Repeats}), batch ({o.Batch}) must be ≥ 1 and seq_len ({o.SeqLen}) ≥ 2");
        if (o.SeqLen > cfg.MaxSeqLen) throw new ArgumentException($"seq_len {o.SeqLen} exceeds the model's max_seq_len {cfg.MaxSeqLen}");
        string loadBefore = BenchEnvironment.LoadAverage();

        var models = new Dictionary<Architecture, (LanguageModel Model, AdamW Optimizer)>();
        try
        {
            foreach (var arch in o.Archs)
            {
                manual_seed(o.Seed);
                var model = new LanguageModel(cfg with { Arch = arch });
                models[arch] = (model, new AdamW(model.named_parameters()));
            }
            manual_seed(o.Seed + 1);
            using var tokens = randint(0, cfg.VocabSize, [o.Batch, o.SeqLen]);
            using var targets = randint(0, cfg.VocabSize, [o.Batch, o.SeqLen]);
            var shape = ((long)o.Batch * o.SeqLen, (long)cfg.EmbedDim, (long)cfg.FfnHidden);
            using var ga = randn(shape.Item1, shape.Item2);
            using var gb = randn(shape.Item2, shape.Item3);

            var measurements = (from arch in o.Archs from k in o.Kernels select new ModelMeasurement(arch, k)).ToList();
            foreach (var m in measurements)                                     // warm-up, then the peak of one step
            {
                cancel.ThrowIfCancellationRequested();
                var (model, opt) = models[m.Arch];
                model.Kernel = m.Kernel;
                Step(model, opt, tokens, targets);
                Prefill(model, tokens);
                m.StepPeakBytes = PeakMemory.Measure(() => Step(model, opt, tokens, targets));
                progress?.Report($"{Label(m),-22} warm; training step peak {Fmt.Mb(m.StepPeakBytes)} MB");
            }
            Gemm(ga, gb);
            var gemm = new List<double>();
            for (int r = 0; r < o.Repeats; r++)
            {
                for (int i = 0; i < measurements.Count; i++)
                {
                    cancel.ThrowIfCancellationRequested();
                    var m = measurements[(i + r) % measurements.Count];
                    var (model, opt) = models[m.Arch];
                    model.Kernel = m.Kernel;
                    var watch = Stopwatch.StartNew();
                    Step(model, opt, tokens, targets);
                    m.StepSeconds.Add(watch.Elapsed.TotalSeconds);
                    watch.Restart();
                    Prefill(model, tokens);
                    m.PrefillSeconds.Add(watch.Elapsed.TotalSeconds);
                    progress?.Report($"round {r + 1}/{o.Repeats} {Label(m),-22} step {m.StepSeconds[^1]:F2} s, prefill {m.PrefillSeconds[^1]:F2} s");
                }
                // the reference GEMM: median of a few calls per round, so that it is timed under the same load
                var calls = new List<double>();
                for (int c = 0; c < 5; c++)
                {
                    var watch = Stopwatch.StartNew();
                    Gemm(ga, gb);
                    calls.Add(watch.Elapsed.TotalSeconds);
                }
                gemm.Add(Stats.Median(calls));
                progress?.Report($"round {r + 1}/{o.Repeats} GEMM {2.0 * shape.Item1 * shape.Item2 * shape.Item3 / gemm[^1] / 1e9:F1} GFLOP/s");
            }
            return new ModelBenchmarkResult(o, measurements, gemm, shape, get_num_threads(), BenchEnvironment.Describe(), loadBefore, BenchEnvironment.LoadAverage());
        }
        finally
        {
            foreach (var (model, opt) in models.Values)
            {
                opt.Dispose();
                model.Dispose();
            }
        }
    }

    private static string Label(ModelMeasurement m) => $"{(m.Arch == Architecture.Diff ? "DIFF" : "Transformer")} {KernelNames.Of(m.Kernel)}";

    /// <summary>One optimizer step as <see cref="Trainer"/> takes it (clip at 1.0, constant learning rate).</summary>
    private static void Step(LanguageModel model, AdamW optimizer, Tensor tokens, Tensor targets)
    {
        using (var scope = NewDisposeScope())
        {
            var loss = LanguageModel.CrossEntropy(model.Forward(tokens), targets);    // ()
            loss.item<float>();
            loss.backward();
        }
        optimizer.ClipGradNorm(1.0);
        optimizer.Update(1e-4);
        optimizer.ZeroGrad();
    }

    private static void Prefill(LanguageModel model, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.Forward(tokens)[0, -1, 0].item<float>();                                   // (B, T, V), synchronised
    }

    private static void Gemm(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        a.matmul(b);
    }
}

/// <summary>
/// Model FLOPs, counted as the usual "model FLOPs" (matrix products only, 2 per multiply–add; training = 3 × forward,
/// i.e. no recomputation counted; elementwise work, norms, softmax and the optimizer not counted). Causal attention
/// counts the T(T+1)/2 query–key pairs that are seen. Per layer and token: q, k, v, out projections
/// 2E(2E + 2E/n_rep), SwiGLU 6·E·FFN; per pair: 8·H·d = 4E for both architectures (baseline: 2H heads, QKᵀ and PV in
/// width d; DIFF: 2H sub-heads' QKᵀ in d plus H heads' (A1 − λA2)V in 2d); LM head 2·E·V per token.
/// </summary>
public static class FlopCount
{
    public static double Forward(ModelConfig c, long batch, long t)
    {
        double e = c.EmbedDim, f = c.FfnHidden, kv = e / c.NRep;
        double perTokenLayer = 2 * e * (2 * e + 2 * kv) + 6 * e * f;
        double attentionPerSeqLayer = 4 * e * (t * (t + 1) / 2.0);
        double head = 2 * e * c.VocabSize;
        return batch * (c.NumLayers * (t * perTokenLayer + attentionPerSeqLayer) + t * head);
    }

    public static double TrainingStep(ModelConfig c, long batch, long t) => 3 * Forward(c, batch, t);
}
