using DiffTransformer.Kernels;
using DiffTransformer.Evaluation;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;
using Xunit.Abstractions;

using static TorchSharp.torch;

namespace DiffTransformer.Tests.Evaluation;

public sealed class QuantEvalTests(TinyCheckpoints checkpoints, ITestOutputHelper log) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private QuantEvalOptions Options(IReadOnlyList<int>? bits = null) => new()
    {
        Text = new LmEvalOptions { Inputs = [dir["text"]], Stride = 20 },
        Needle = new NeedleEvalOptions
        {
            Lengths = [64], Settings = [new(1, 1), new(2, 1)], Depths = [0, 1], Samples = 2,
            Task = new NeedleTaskOptions { Keys = ["ab", "cd", "ef"], MaxNeedles = 2, Template = new NeedleTemplate { Needle = "{key}={value}.", Question = "{key}?" } },
        },
        Bits = bits ?? [16, 4],
    };

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void FullPrecisionIsTheNormalForwardAndSixteenBitsChangeNothingMeasurable(Architecture arch)
    {
        dir.WriteText("text/a.txt", "The quick brown fox jumps over the lazy dog, and over the lazy dog again, twice, for good measure.");
        dir.WriteText("text/b.txt", "Pack my box with five dozen liquor jugs.");
        using var m = EvalModel.Load(checkpoints.Save($"quant-{arch}", TinyCheckpoints.Config(arch)));
        // Sharp maps (weights ×3): a random tiny model's logits are so flat that 4 bits
        // could change its loss by less than 1e-4 (CI saw 1.4e-6 once). The fixture's weights also depend on whichever
        // test draws from libtorch's global generator at the same time, so the margin must not hang on one draw.
        using (no_grad()) foreach (var p in m.Model.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(3));
        var options = Options();
        var r = QuantEval.Run([m], options);
        var score = Assert.Single(r.Models);
        Assert.Null(m.Model.Quantization);                                              // left as it was found
        foreach (var p in score.Points)
            log.WriteLine($"{arch} {p.Label,-20} loss {p.Loss:F7} (Δ {p.Loss - score.Full.Loss:+0.0E+00;-0.0E+00}), needle accuracy {p.NeedleAccuracy:F3}, unsupported {p.NeedleUnsupported:F3}, {p.Seconds:F2} s");

        // full precision is eval lm's and eval needle's figure, bit for bit
        var lm = Assert.Single(LmEval.Run([m], options.Text).Models);
        var needle = Assert.Single(NeedleEval.Run([m], options.Needle).Models);
        Assert.Equal(lm.Loss, score.Full.Loss);
        Assert.Equal(lm.Tokens, score.Full.Tokens);
        Assert.Equal(needle.Accuracy, score.Full.NeedleAccuracy);
        Assert.All(score.Points, p => Assert.InRange(p.NeedleAccuracy, 0, 1));

        Assert.Equal(1 + 2 * 2, score.Points.Count);
        foreach (var g in new[] { QuantGranularity.Tensor, QuantGranularity.Head })
        {
            double d16 = Math.Abs(score.At(16, g).Loss - score.Full.Loss), d4 = Math.Abs(score.At(4, g).Loss - score.Full.Loss);
            Assert.True(d16 < 1e-4, $"16-bit per-{g} changed the loss by {d16}");
            Assert.True(d4 > 10 * d16 && d4 > 1e-4, $"4-bit per-{g} changed the loss by only {d4} (16-bit: {d16})");
        }

        string md = r.ToMarkdown();
        Assert.Contains("## Held-out loss (nats/token)", md);
        Assert.Contains("| full | 16 bits | 4 bits |", md);
        string png = dir["loss.png"];
        QuantPlot.Write(png, r, "held-out loss (nats/token)", p => p.Loss);
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        dir.WriteText("text/a.txt", "held-out text");
        using var m = EvalModel.Load(checkpoints.Diff);
        Assert.Equal("--bits 1 is outside [2, 24]", Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options([8, 1]))).Message);
        Assert.Equal("--bits lists 8 twice", Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options([8, 6, 8]))).Message);
        Assert.Equal("--bits lists no bit widths", Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options([]))).Message);
        Assert.Equal("--granularity lists no granularity",
            Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options() with { Granularities = [] })).Message);
        var e = Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options() with { Needle = new NeedleEvalOptions { Lengths = [65] } }));
        Assert.Contains("prompt length 65 is longer than the context of the model at", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => QuantEval.Run([m], Options() with { Text = new LmEvalOptions { Inputs = [dir["text"]], Context = 100 } }));
        Assert.Contains("--context 100 is longer than the context of the model at", e2.Message);
    }
}
