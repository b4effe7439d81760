using DiffTransformer.Evaluation;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;

namespace DiffTransformer.Tests.Evaluation;

public sealed class AttentionEvalTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void SharesOfAHandBuiltRowSumCorrectly()
    {
        //               eot   h     h     v     v     q     h
        float[] row = [0.10f, 0.05f, 0.15f, 0.30f, 0.20f, 0.12f, 0.08f];
        var (a, n, r) = AttentionEval.Shares(row, answerStart: 3, answerLength: 2, haystack: [1, 2, 6], rowSum: 1);
        Assert.Equal(0.50, a, 6);
        Assert.Equal(0.28, n, 6);
        Assert.Equal(0.22, r, 6);
        // a differential row (A1 − λ·A2, here λ = 0.4) sums to 1 − λ and may go negative; shares are fractions of that sum
        float[] diffRow = [0.02f, -0.01f, 0.01f, 0.40f, 0.15f, 0.03f, 0.0f];
        var (da, dn, dr) = AttentionEval.Shares(diffRow, 3, 2, [1, 2, 6], rowSum: 0.6);
        Assert.Equal(0.55 / 0.6, da, 6);
        Assert.Equal(0.0, dn, 6);
        Assert.Equal(0.05 / 0.6, dr, 6);
        Assert.Throws<ArgumentException>(() => AttentionEval.Shares(row, 3, 2, [1], rowSum: 0));

        // shares of the absolute mass: a softmax row's are its plain shares; a differential row's count |w| (Σ|w| = 0.62 here)
        var (pa, pn, pr) = AttentionEval.AbsoluteShares(row, 3, 2, [1, 2, 6]);
        Assert.Equal((0.50, 0.28, 0.22), (Math.Round(pa, 6), Math.Round(pn, 6), Math.Round(pr, 6)));
        var (xa, xn, xr) = AttentionEval.AbsoluteShares(diffRow, 3, 2, [1, 2, 6]);
        Assert.Equal(0.55 / 0.62, xa, 6);
        Assert.Equal(0.02 / 0.62, xn, 6);
        Assert.Equal(0.05 / 0.62, xr, 6);
        // a row whose weights are mostly negative (λ > 1: the row sum is negative) still gets shares in [0, 1]
        float[] negated = [.. diffRow.Select(x => -x)];
        Assert.Equal(xa, AttentionEval.AbsoluteShares(negated, 3, 2, [1, 2, 6]).Answer, 12);
        Assert.Throws<ArgumentException>(() => AttentionEval.AbsoluteShares(new float[7], 3, 2, [1]));
    }

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void AnswerNoiseAndTheRestMakeTheWholeRowOnASavedModel(Architecture arch)
    {
        using var m = EvalModel.Load(checkpoints.Save($"attn-{arch}", TinyCheckpoints.Config(arch)));
        var task = new NeedleTaskOptions { Keys = ["ab", "cd", "ef"], MaxNeedles = 2, Template = new NeedleTemplate { Needle = "{key}={value}.", Question = "{key}?" } };
        var options = new NeedleEvalOptions { Task = task, Samples = 1 };
        var prompt = NeedleEval.CellPrompts(m.Tokenizer, Haystack.Generated(1), options, new NeedleGridCell(60, new NeedleSetting(2, 1), 0.5, 1))[0];
        var share = AttentionEval.Measure(m, task, prompt, 60, "2/1", 0.5);
        Assert.Equal(2, share.Answer.Count);                                  // one figure per layer
        Assert.Equal(arch == Architecture.Diff ? 2 : 0, share.Lambda.Count);
        for (int l = 0; l < 2; l++)
        {
            // every key of the row is answer, noise or rest: shares of the absolute mass, in [0, 1], summing to 1
            Assert.Equal(1.0, share.Answer[l] + share.Noise[l] + share.Rest[l], 4);
            Assert.All(new[] { share.Answer[l], share.Noise[l], share.Rest[l] }, x => Assert.InRange(x, 0, 1));
            Assert.True(share.Rest[l] != 0);                                   // end-of-text, needle words and the question hold some
            // a softmax row has no negative weights, so its signed shares are the same figures
            if (arch == Architecture.Transformer) Assert.Equal(share.Answer[l], share.SignedAnswer[l], 6);
        }
    }

    [Fact]
    public void TheSuiteRunsAndReports()
    {
        using var diff = EvalModel.Load(checkpoints.Diff);
        var task = new NeedleTaskOptions { Keys = ["ab", "cd", "ef"], MaxNeedles = 2, Template = new NeedleTemplate { Needle = "{key}={value}.", Question = "{key}?" } };
        var result = AttentionEval.Run([diff], new NeedleEvalOptions { Task = task, Settings = [new(1, 1)], Depths = [0, 1], Lengths = [64], Samples = 2 });
        var m = Assert.Single(result.Models);
        Assert.Equal(4, m.Prompts.Count);
        Assert.Equal(2, m.ByDepth.Count);
        Assert.Contains("## By layer", result.ToMarkdown());
        Assert.Contains("## DIFF: λ and the signed shares by layer", result.ToMarkdown());
        AllocationPlot.Write(dir["alloc.png"], result);
        Assert.True(new FileInfo(dir["alloc.png"]).Length > 1000);
    }
}
