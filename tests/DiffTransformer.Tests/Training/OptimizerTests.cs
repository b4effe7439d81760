using DiffTransformer.Model;
using DiffTransformer.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Training;

public sealed class OptimizerTests(ITestOutputHelper log)
{
    [Fact]
    public void ScheduleWarmsUpThenDecays()
    {
        var cos = new LrSchedule(1e-3, 1e-4, WarmupSteps: 10, TotalSteps: 110, DecayShape.Cosine);
        Assert.Equal(1e-4, cos.At(0), 12);                 // (0 + 1) / 10 of the peak
        Assert.Equal(5e-4, cos.At(4), 12);
        Assert.Equal(1e-3, cos.At(9), 12);                 // end of warm-up: the peak
        Assert.Equal(1e-3, cos.At(10), 12);                // first decay step: still the peak
        Assert.Equal(1e-4 + 9e-4 * 0.5 * (1 + Math.Cos(Math.PI * 49 / 99)), cos.At(59), 12); // cosine from step 10 to 109
        Assert.InRange(cos.At(59), 5.4e-4, 5.7e-4);        // about halfway
        Assert.Equal(1e-4, cos.At(109), 12);               // last step: the floor
        Assert.Equal(1e-4, cos.At(500), 12);               // and it stays there
        var lin = new LrSchedule(1e-3, 0, WarmupSteps: 0, TotalSteps: 11, DecayShape.Linear);
        Assert.Equal(1e-3, lin.At(0), 12);
        Assert.Equal(5e-4, lin.At(5), 12);
        Assert.Equal(0, lin.At(10), 12);
        var flat = new LrSchedule(3e-4, 0, WarmupSteps: 2, TotalSteps: 100, DecayShape.Constant);
        Assert.Equal(1.5e-4, flat.At(0), 12);
        Assert.Equal(3e-4, flat.At(99), 12);
    }

    [Fact]
    public void WeightDecayAppliesToMatricesOnly()
    {
        var cfg = new ModelConfig { VocabSize = 20, EmbedDim = 16, NumLayers = 1, NumHeads = 2 };
        using var model = new LanguageModel(cfg);
        using var opt = new AdamW(model.named_parameters());
        Assert.Equal(
            ["embed_tokens.weight", "layers.0.attn.q_proj.weight", "layers.0.attn.k_proj.weight", "layers.0.attn.v_proj.weight",
             "layers.0.attn.out_proj.weight", "layers.0.ffn.gate_proj.weight", "layers.0.ffn.up_proj.weight",
             "layers.0.ffn.down_proj.weight", "lm_head.weight"],
            opt.DecayedParameters);
        // norms, λ vectors and subln are never decayed
        Assert.DoesNotContain(opt.DecayedParameters, n => n.Contains("norm") || n.Contains("lambda") || n.Contains("subln"));
    }

    /// <summary>
    /// The update rule alone: fed PyTorch's (clipped) gradients of each step, five AdamW updates with a changing
    /// learning rate, weight decay on matrices only, must land on PyTorch's parameters.
    /// </summary>
    [Fact]
    public void AdamWUpdatesMatchPyTorchGivenTheSameGradients()
    {
        using var fx = new AdamWFixture();
        var (f, model, opt) = (fx.File, fx.Model, fx.Optimizer);
        var lrs = f.Read("input.lrs").data<float>().ToArray();
        for (int i = 0; i < lrs.Length; i++)
        {
            foreach (var (name, p) in model.named_parameters()) p.grad = f.Read($"grad_step{i}.{name}");
            opt.Update(lrs[i]);
        }
        foreach (var (name, p) in model.named_parameters())
            TensorAssert.Close(log, "after 5 updates: " + name, p, f.Read("final." + name), rtol: 1e-5, atol: 1e-6);
    }

    /// <summary>
    /// End to end: our forward, backward, clipping and update for five steps against PyTorch's losses and norms.
    /// The first step agrees to float rounding (1e-6). Later steps compound rounding differences through Adam,
    /// whose early updates are close to lr·sign(g), so components whose gradient is near zero can move differently;
    /// measured here: losses within 1e-7, norms within 4e-6 relative. The trajectory is held to 2e-5 relative;
    /// the update rule alone is held to 1e-5 above.
    /// </summary>
    [Fact]
    public void TrainingStepsFollowPyTorchsTrajectory()
    {
        using var fx = new AdamWFixture();
        var (f, model, opt) = (fx.File, fx.Model, fx.Optimizer);
        using var scope = NewDisposeScope();
        var tokens = f.Read("input.tokens");
        var targets = f.Read("input.targets");
        var losses = new List<float>();
        var norms = new List<float>();
        foreach (var lr in f.Read("input.lrs").data<float>().ToArray())
        {
            opt.ZeroGrad();
            var loss = LanguageModel.CrossEntropy(model.Forward(tokens), targets);
            loss.backward();
            norms.Add((float)opt.ClipGradNorm(1.0));
            opt.Update(lr);
            losses.Add(loss.item<float>());
        }
        var refLosses = f.Read("output.losses");
        var refNorms = f.Read("output.grad_norms");
        log.WriteLine($"C#      losses {string.Join(", ", losses)}; norms {string.Join(", ", norms)}");
        log.WriteLine($"PyTorch losses {string.Join(", ", refLosses.data<float>().ToArray())}; norms {string.Join(", ", refNorms.data<float>().ToArray())}");
        TensorAssert.Close(log, "first step loss", tensor(losses[0]), refLosses[0], rtol: 1e-6, atol: 1e-7);
        TensorAssert.Close(log, "first step grad norm", tensor(norms[0]), refNorms[0], rtol: 1e-6, atol: 1e-7);
        TensorAssert.Close(log, "losses over 5 steps", tensor(losses.ToArray()), refLosses, rtol: 2e-5, atol: 0);
        TensorAssert.Close(log, "grad norms over 5 steps", tensor(norms.ToArray()), refNorms, rtol: 2e-5, atol: 0);
    }

    /// <summary>The PyTorch AdamW fixture: the model at PyTorch's initial weights and an optimizer with its settings.</summary>
    private sealed class AdamWFixture : IDisposable
    {
        public DiffTransformer.IO.SafeTensorsFile File { get; } = Fixtures.Open("adamw_diff");
        public LanguageModel Model { get; }
        public AdamW Optimizer { get; }

        public AdamWFixture()
        {
            Model = new LanguageModel(ModelConfig.FromJson(File.Metadata["config"], "adamw_diff"));
            Fixtures.LoadParams(Model, File);
            Optimizer = new AdamW(Model.named_parameters(), 0.9, 0.95, 1e-8, 0.1); // the fixture's settings
        }

        public void Dispose()
        {
            Optimizer.Dispose();
            Model.Dispose();
            File.Dispose();
        }
    }

    [Fact]
    public void ClippingScalesToTheMaximumNorm()
    {
        using var p = new TorchSharp.Modules.Parameter(zeros(3));
        using var opt = new AdamW([("p", p)]);
        p.grad = tensor(new float[] { 3, 4, 0 });
        Assert.Equal(5.0, opt.ClipGradNorm(1.0), 5);
        Assert.Equal(1.0, p.grad!.norm().item<float>(), 4);
        Assert.Equal(1.0, opt.ClipGradNorm(2.0), 4);        // under the limit: untouched
        Assert.Equal(1.0, p.grad!.norm().item<float>(), 4);
    }
}
