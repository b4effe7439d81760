using DiffTransformer.Evaluation;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Evaluation;

public sealed class OutlierEvalTests(TinyCheckpoints checkpoints, ITestOutputHelper log) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>
    /// Every window run on its own, the layers called one by one (embedding, then each block), the logits taken from a
    /// capture that keeps every map and the causal entries picked by index: all values of each layer, in lists.
    /// </summary>
    private static (List<double>[] Logits, List<double>[] Hidden) Direct(LanguageModel model, IEnumerable<long[]> windows)
    {
        int layers = model.Config.NumLayers;
        var logits = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
        var hidden = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
        using var _ = no_grad();
        foreach (var w in windows)
        {
            using var scope = NewDisposeScope();
            using var capture = new AttentionCapture { WantProbs = false, WantDifferential = false };
            var h = model.EmbeddingWeight.index_select(0, tensor(w)).unsqueeze(0);          // (1, T, E)
            for (int i = 0; i < layers; i++)
            {
                h = model.Layers[i].Forward(h, 0, capture);
                hidden[i].AddRange(h.data<float>().ToArray().Select(v => (double)v));
            }
            int t = w.Length;
            foreach (var map in capture.Maps)
            {
                var values = map.Logits!.data<float>().ToArray();                             // (1, 2H, T, T)
                long maps = map.Logits.shape[1];
                for (long m = 0; m < maps; m++)
                    for (int q = 0; q < t; q++)
                        for (int k = 0; k <= q; k++)
                            logits[map.Layer].Add(values[(m * t + q) * t + k]);
            }
        }
        return (logits, hidden);
    }

    private void AssertClose(string name, MagnitudeStats s, List<double> values)
    {
        var asc = values.Select(Math.Abs).Order().ToArray();
        double Top(int k) => asc[^k];
        double median = asc[(asc.Length + 1) / 2 - 1];
        double mean = values.Average(), m2 = values.Sum(v => (v - mean) * (v - mean)), m4 = values.Sum(v => Math.Pow(v - mean, 4));
        double kurtosis = values.Count * m4 / (m2 * m2);
        log.WriteLine($"{name,-14} n {s.Count,6}  top-1 {s.Top1:F5} ({Top(1):F5})  top-100 {s.Top100:F5} ({Top(100):F5})  median {s.Median:G5} ({median:G5})  kurtosis {s.Kurtosis:F4} ({kurtosis:F4})");
        Assert.Equal(values.Count, s.Count);
        foreach (var (k, v) in new[] { (1, s.Top1), (2, s.Top2), (3, s.Top3), (10, s.Top10), (100, s.Top100) })
            Assert.True(Math.Abs(v - Top(k)) <= 1e-5 * Top(1), $"{name}: top-{k} {v} vs {Top(k)}");
        Assert.True(Math.Abs(s.Median / median - 1) <= MagnitudeAccumulator.MedianRelativeError + 1e-5, $"{name}: median {s.Median} vs {median}");
        Assert.Equal(kurtosis, s.Kurtosis, kurtosis * 1e-4);
    }

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void TheFiguresOverManyBatchedWindowsEqualADirectComputation(Architecture arch)
    {
        const string a = "The quick brown fox jumps over the lazy dog, and then over the lazy dog again, twice, for good measure.";
        const string b = "Pack my box with five dozen liquor jugs.";
        dir.WriteText("text/a.txt", a);
        dir.WriteText("text/b.txt", b);
        using var m = EvalModel.Load(checkpoints.Save($"outliers-{arch}", TinyCheckpoints.Config(arch)));
        var options = new LmEvalOptions { Inputs = [dir["text"]], Context = 16, BatchSize = 3 };
        var r = OutlierEval.Run([m], options);
        var score = Assert.Single(r.Models);
        var windows = OutlierEval.Windows(LmEval.ReadDocuments(options, out _).Select(d => m.Tokenizer.Encode(d.Text)), m.Tokenizer.EndOfText, 16);
        int tokens = a.Length + 1 + b.Length + 1;                                        // [eot, bytes…] of each document
        Assert.Equal(tokens, windows.Sum(w => w.Length));
        Assert.Equal((a.Length + 16) / 16 + (b.Length + 16) / 16, score.Windows);       // ⌈(n + 1) / 16⌉ each
        Assert.Equal(tokens, score.Tokens);

        var (logits, hidden) = Direct(m.Model, windows);
        for (int i = 0; i < logits.Length; i++)
        {
            AssertClose($"layer {i} logits", score.LogitsByLayer[i], logits[i]);
            AssertClose($"layer {i} hidden", score.HiddenByLayer[i], hidden[i]);
        }
        AssertClose("logits", score.Logits, logits.SelectMany(x => x).ToList());
        AssertClose("hidden", score.Hidden, hidden.SelectMany(x => x).ToList());
        Assert.Equal(2 * 2 * 2 * windows.Sum(w => w.Length * (w.Length + 1L) / 2), score.Logits.Count); // layers × 2H maps × causal entries

        string md = r.ToMarkdown();
        Assert.Contains("## Attention logits |q·kᵀ/√d|", md);
        Assert.Contains("| 1 hidden |", md);
        string png = dir["plot.png"];
        OutlierPlot.Write(png, score);
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var m = EvalModel.Load(checkpoints.Diff);
        dir.WriteText("text/a.txt", "held-out text");
        var e1 = Assert.Throws<ArgumentException>(() => OutlierEval.Run([m], new LmEvalOptions { Inputs = [dir["text"]], Context = 65 }));
        Assert.Contains("--context 65 is longer than the context of the model at", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => OutlierEval.Run([m], new LmEvalOptions { Inputs = [dir["text"]], Stride = 8 }));
        Assert.Equal("eval outliers feeds disjoint windows: a stride (8) does not apply", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => OutlierEval.Run([m], new LmEvalOptions { Inputs = [dir["text"]], BatchSize = 0 }));
        Assert.Equal("--batch-size must be at least 1, got 0", e3.Message);
        dir.WriteText("empty/a.txt", "");
        Assert.Contains("no documents to score", Assert.Throws<InvalidDataException>(() => OutlierEval.Run([m], new LmEvalOptions { Inputs = [dir["empty"]] })).Message);
    }
}
