using System.Diagnostics;
using DiffTransformer.Model;
using DiffTransformer.Training;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

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
