using System.Diagnostics;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// One DIFF attention layer against one baseline layer of equal projection parameters (E, H heads of 2d vs 2H heads
/// of d), forward and forward+backward, for each attention core and sequence length. The forward+backward is what a
/// training step asks of a layer: y = layer(x), then the backward of Σ y ⊙ dy into x and every parameter.
/// Peak memory comes from a separate pass (one call each, see <see cref="PeakMemory"/>), then the timed rounds.
/// </summary>
public static class AttentionBenchmark
{
    public static AttentionBenchmarkResult Run(AttentionBenchmarkOptions o, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        if (o.Repeats < 1) throw new ArgumentException($"repeats must be ≥ 1, got {o.Repeats}");
        if (o.SeqLens.Count == 0 || o.SeqLens.Any(t => t < 1)) throw new ArgumentException("give at least one positive sequence length");
        if (o.TokensPerCall is int tokens && o.SeqLens.Any(t => tokens % t != 0))
            throw new ArgumentException($"tokens per call {tokens} is not a multiple of every sequence length ({string.Join(", ", o.SeqLens)})");
        string loadBefore = BenchEnvironment.LoadAverage();

        manual_seed(o.Seed);
        using var diff = new DifferentialAttention(o.EmbedDim, 0, o.Heads, o.KvHeads);
        manual_seed(o.Seed);
        using var baseline = new MultiheadAttention(o.EmbedDim, 0, 2 * o.Heads, o.KvHeads is int kv ? 2 * kv : null);
        AttentionModule Layer(Architecture a) => a == Architecture.Diff ? diff : baseline;

        var all = new List<AttentionMeasurement>();
        foreach (int t in o.SeqLens)
        {
            int batch = o.TokensPerCall is int n ? n / t : o.Batch;
            var here = new List<AttentionMeasurement>();
            foreach (var arch in o.Archs)
                foreach (var kernel in o.Kernels)
                {
                    if (kernel == AttentionKernel.Explicit && t > o.MaxExplicitLen) continue;
                    if (o.ForwardOnly) here.Add(new AttentionMeasurement(arch, kernel, t, batch, false));
                    here.Add(new AttentionMeasurement(arch, kernel, t, batch, true));
                }
            manual_seed(o.Seed + t);
            using var x = randn(batch, t, o.EmbedDim);                          // (B, T, E)
            using var dy = randn(batch, t, o.EmbedDim);                         // (B, T, E)

            // warm-up and peak memory: one call each
            foreach (var m in here)
            {
                cancel.ThrowIfCancellationRequested();
                Call(Layer(m.Arch), m, x, dy);
                m.PeakBytes = PeakMemory.Measure(() => Call(Layer(m.Arch), m, x, dy));
                progress?.Report($"T {t,5} {Label(m),-32} peak {Fmt.Mb(m.PeakBytes)} MB");
            }
            for (int r = 0; r < o.Repeats; r++)
                for (int i = 0; i < here.Count; i++)
                {
                    cancel.ThrowIfCancellationRequested();
                    var m = here[(i + r) % here.Count];                          // rotate the order each round
                    var watch = Stopwatch.StartNew();
                    Call(Layer(m.Arch), m, x, dy);
                    m.Seconds.Add(watch.Elapsed.TotalSeconds);
                    progress?.Report($"T {t,5} round {r + 1}/{o.Repeats} {Label(m),-32} {batch * t / m.Seconds[^1],9:N0} tokens/s");
                }
            all.AddRange(here);
        }
        return new AttentionBenchmarkResult(o, all, get_num_threads(), BenchEnvironment.Describe(), loadBefore, BenchEnvironment.LoadAverage());
    }

    private static string Label(AttentionMeasurement m) => $"{(m.Arch == Architecture.Diff ? "DIFF" : "baseline")} {KernelNames.Of(m.Kernel)} {m.Mode}";

    private static void Call(AttentionModule layer, AttentionMeasurement m, Tensor x, Tensor dy)
    {
        layer.Kernel = m.Kernel;
        using var scope = NewDisposeScope();
        if (!m.Backward)
        {
            using var _ = no_grad();
            layer.Forward(x);
            return;
        }
        var xg = x.detach().requires_grad_(true);
        layer.Forward(xg).backward([dy]);
        layer.zero_grad();
    }
}
