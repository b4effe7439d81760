using System.Diagnostics;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using DiffTransformer.Training;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// Where a training step's time goes: every kind of piece of the model is timed on its own, with the shapes it has in
/// the model (B × T tokens), forward and backward (the backward of Σ y ⊙ dy into its input and parameters), in
/// alternating rounds; the table multiplies each by how often a step runs it. Pieces inside the attention layer
/// (one projection, rotary, the core, the per-head norm) are timed alone too, to split the layer's time.
/// </summary>
public static class StepProfile
{
    public static StepProfileResult Run(StepProfileOptions o, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var c = o.Config.Validate();
        if (o.Repeats < 1) throw new ArgumentException($"repeats must be ≥ 1, got {o.Repeats}");
        string loadBefore = BenchEnvironment.LoadAverage();
        long b = o.Batch, t = o.SeqLen;
        int e = c.EmbedDim, h = c.NumHeads, hkv = c.KvHeads, d = c.HeadDim, layers = c.NumLayers;

        manual_seed(o.Seed);
        using var diff = new DifferentialAttention(e, 1, h, c.NumKvHeads, ropeTheta: c.RopeTheta);
        using var baseline = new MultiheadAttention(e, 1, 2 * h, 2 * hkv, ropeTheta: c.RopeTheta);
        using var ffn = new SwiGLU(e, c.FfnHidden);
        using var norm = new RMSNorm(e, c.NormEps);
        using var subln = new RMSNorm(2 * d, 1e-5);
        using var proj = nn.Linear(e, e, hasBias: false);
        using var rotary = new RotaryEmbedding(d, c.RopeTheta);
        using var model = new LanguageModel(c with { Arch = Architecture.Diff });
        using var optimizer = new AdamW(model.named_parameters());
        using var x = randn(b, t, e);                                    // (B, T, E)
        using var q = randn(b, t, 2 * h, d);                             // (B, T, 2H, d)
        using var k = randn(b, t, 2 * hkv, d);                           // (B, T, 2Hkv, d)
        using var v = randn(b, t, hkv, 2 * d);                           // (B, T, Hkv, 2d)
        using var vBase = randn(b, t, 2 * hkv, d);                       // (B, T, 2Hkv, d): the baseline's value
        using var lambda = tensor(0.3f);
        using var hidden = randn(b, t, e);
        using var targets = randint(0, c.VocabSize, [b, t]);
        using (var scope = NewDisposeScope())                            // gradients for the optimizer to work on
            LanguageModel.CrossEntropy(model.Forward(randint(0, c.VocabSize, [b, t])), targets).backward();

        var items = new List<(ProfileItem Item, Action Run)>();
        void Add(string group, string name, int perStep, Action run) => items.Add((new ProfileItem(group, name, perStep), run));
        Add("attention layer", "DIFF, blocked core", layers, () => Layer(diff, AttentionKernel.Blocked, x));
        Add("attention layer", "DIFF, fused core (2 SDPA calls)", layers, () => Layer(diff, AttentionKernel.Fused, x));
        Add("attention layer", "Transformer, fused core (SDPA)", layers, () => Layer(baseline, AttentionKernel.Fused, x));
        Add("attention layer", "Transformer, blocked core", layers, () => Layer(baseline, AttentionKernel.Blocked, x));
        Add("inside attention", "one E×E projection (×4 per layer)", 4 * layers, () => Backward(() => proj.forward(Grad(x))));
        Add("inside attention", "rotary, q and k", layers, () => Backward(() => rotary.Apply(Grad(q), 0).add(rotary.Apply(Grad(k), 0), Scalars.Of(1))));
        Add("inside attention", "DIFF core, blocked", layers, () => Backward(() => DifferentialCore.Blocked(Grad(q), Grad(k), Grad(v), Grad(lambda))));
        Add("inside attention", "DIFF core, 2 SDPA calls + combine", layers, () => Backward(() => DifferentialCore.Fused(T(q), T(k), T(v), Grad(lambda))));
        Add("inside attention", "baseline core, SDPA", layers, () => Backward(() => StandardCore.Fused(T(q), T(k), T(vBase))));
        Add("inside attention", "baseline core, blocked", layers, () => Backward(() => StandardCore.Blocked(Grad(q), Grad(k), Grad(vBase))));
        Add("inside attention", "DIFF per-head RMSNorm + (1 − λinit)", layers, () => Backward(() => subln.forward(Grad(v)).mul(Scalars.Of(0.8))));
        Add("block", "SwiGLU", layers, () => Backward(() => ffn.forward(Grad(x))));
        Add("block", "RMSNorm (×2 per layer, +1)", 2 * layers + 1, () => Backward(() => norm.forward(Grad(x))));
        Add("block", "residual add (×2 per layer)", 2 * layers, () => Backward(() => Grad(x).add(Grad(x), Scalars.Of(1))));
        Add("step", "LM head + cross-entropy", 1, () => Backward(() => LanguageModel.CrossEntropy(model.Head(Grad(hidden)), targets)));
        Add("step", "AdamW: clip + update + zero", 1, () =>
        {
            optimizer.ClipGradNorm(1.0);
            optimizer.Update(1e-4);
            optimizer.ZeroGrad();
        });

        foreach (var (_, run) in items) run();                                     // warm-up
        for (int r = 0; r < o.Repeats; r++)
            for (int i = 0; i < items.Count; i++)
            {
                cancel.ThrowIfCancellationRequested();
                var (item, run) = items[(i + r) % items.Count];
                var watch = Stopwatch.StartNew();
                run();
                item.Seconds.Add(watch.Elapsed.TotalSeconds);
                progress?.Report($"round {r + 1}/{o.Repeats} {item.Name,-40} {1000 * item.Seconds[^1],9:F1} ms");
            }
        return new StepProfileResult(o, items.Select(i => i.Item).ToList(), get_num_threads(), BenchEnvironment.Describe(), loadBefore, BenchEnvironment.LoadAverage());
    }

    private static Tensor Grad(Tensor t) => t.detach().requires_grad_(true);

    /// <summary>A (B, T, heads, width) input as the fused and explicit cores take it, (B, heads, T, width), as the layer transposes it.</summary>
    private static Tensor T(Tensor t) => Grad(t).transpose(1, 2);

    private static void Layer(AttentionModule layer, AttentionKernel kernel, Tensor x)
    {
        layer.Kernel = kernel;
        Backward(() => layer.Forward(Grad(x)));
        layer.zero_grad();
    }

    private static void Backward(Func<Tensor> f)
    {
        using var scope = NewDisposeScope();
        var y = f();
        y.backward([ones_like(y)]);
    }
}
