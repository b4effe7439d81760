using DiffTransformer.Data;
using DiffTransformer.Evaluation;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Tests.Evaluation;

public sealed class LmEvalTests : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TinyCheckpoints checkpoints;
    private readonly TempDir dir = new();

    public LmEvalTests(TinyCheckpoints checkpoints) => this.checkpoints = checkpoints;

    public void Dispose() => dir.Dispose();

    /// <summary>The summed cross-entropy of the targets in [from, to) of one forward over inputs, computed directly.</summary>
    private static double DirectNats(LanguageModel model, long[] inputs, long[] targets, int from)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = model.Forward(tensor(inputs, [1, inputs.Length]));                              // (1, T, V)
        var ce = F.cross_entropy(logits.view(-1, logits.shape[^1]), tensor(targets), reduction: nn.Reduction.None); // (T)
        return ce.narrow(0, from, inputs.Length - from).sum().to_type(ScalarType.Float64).item<double>();
    }

    private static int[] RandomTokens(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(0, 256)).ToArray();
    }

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void ADocumentInsideOneWindowScoresItsMeanCrossEntropy(Architecture arch)
    {
        using var m = EvalModel.Load(checkpoints.Save($"lm-{arch}", TinyCheckpoints.Config(arch)));
        var tokens = RandomTokens(40, 1);
        double nats = LmEval.ScoreTokens(m.Model, 256, tokens, context: 64, stride: 32, batchSize: 4);
        long[] inputs = [256, .. tokens[..^1].Select(t => (long)t)];
        long[] targets = tokens.Select(t => (long)t).ToArray();
        double direct = DirectNats(m.Model, inputs, targets, 0);
        Assert.Equal(direct, nats, direct * 1e-5);
        using var mean = LanguageModel.CrossEntropy(m.Model.Forward(tensor(inputs, [1, inputs.Length])), tensor(targets, [1, targets.Length]));
        Assert.Equal(mean.item<float>(), nats / tokens.Length, 1e-4);
    }

    [Theory]
    [InlineData(16, 16)]   // disjoint windows
    [InlineData(16, 5)]    // overlapping: each token once, with ≥ 11 tokens of context after the first window
    [InlineData(16, 1)]
    public void WindowsScoreEveryTokenOnceWithTheContextTheyPromise(int context, int stride)
    {
        using var m = EvalModel.Load(checkpoints.Diff);
        var tokens = RandomTokens(53, 2);
        long[] s = [256, .. tokens.Select(t => (long)t)];
        double expected = 0;
        int scoredTargets = 0;
        for (int a = 0, done = 0; ; a += stride)
        {
            int e = Math.Min(a + context, tokens.Length);
            int from = Math.Max(a, done) - a;
            expected += DirectNats(m.Model, s[a..e], s[(a + 1)..(e + 1)], from);
            scoredTargets += e - a - from;
            done = e;
            if (e == tokens.Length) break;
        }
        Assert.Equal(tokens.Length, scoredTargets);
        double nats = LmEval.ScoreTokens(m.Model, 256, tokens, context, stride, batchSize: 3);
        Assert.Equal(expected, nats, expected * 1e-5);
    }

    [Fact]
    public void RunReportsLossPerplexityAndBitsPerByteOverTextJsonlAndADataset()
    {
        dir.WriteText("text/a.txt", "The quick brown fox jumps over the lazy dog. ");
        dir.WriteText("text/b.md", "Pack my box with five dozen liquor jugs, twice over and over again.");
        string jsonl = dir.WriteJsonl("docs.jsonl", [Corpus.JsonLine("first document", 1), Corpus.JsonLine("zweites Dokument: grün", 2)]);
        using var m = EvalModel.Load(checkpoints.Diff);

        var text = LmEval.Run([m], new LmEvalOptions { Inputs = [dir["text"]], Stride = 20 });
        var score = Assert.Single(text.Models);
        Assert.Equal(2, text.Documents);
        Assert.Equal(score.Documents.Sum(d => d.Tokens), score.Tokens);
        Assert.Equal(score.Tokens, score.Bytes);                                   // ASCII, byte tokenizer
        Assert.Equal(score.Nats / score.Tokens, score.Loss, 12);
        Assert.Equal(Math.Exp(score.Loss), score.Perplexity, 9);
        Assert.Equal(score.Loss / Math.Log(2), score.BitsPerByte, 12);             // one byte per token
        Assert.Contains("| DIFF (", text.ToMarkdown());

        var json = LmEval.Run([m], new LmEvalOptions { Inputs = [jsonl] });
        var js = Assert.Single(json.Models);
        Assert.Equal(2, js.Documents.Count);
        Assert.EndsWith("docs.jsonl:2", js.Documents[1].Source);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount("zweites Dokument: grün"), js.Documents[1].Bytes);

        var prepared = DatasetPreparer.Prepare(new PrepareOptions { Inputs = [dir["text"]], OutputDirectory = dir["ds"], ValFraction = 1.0 });
        var ds = LmEval.Run([m], new LmEvalOptions { Inputs = [prepared.OutputDirectory], Stride = 20 });
        Assert.Equal(score.Nats, Assert.Single(ds.Models).Nats, 1e-9);             // the same two documents, decoded from the shards
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var m = EvalModel.Load(checkpoints.Diff);
        dir.WriteText("empty/a.txt", "");
        var e1 = Assert.Throws<ArgumentException>(() => LmEval.Run([m], new LmEvalOptions { Inputs = [dir["empty"]], Context = 65 }));
        Assert.Contains("--context 65 is longer than the context of the model at", e1.Message);
        Assert.Contains("max_seq_len 64", e1.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => LmEval.Run([m], new LmEvalOptions { Inputs = [dir["empty"]] }));
        Assert.Contains("no documents to score", e2.Message);
        string jsonl = dir.WriteJsonl("bad.jsonl", ["{\"body\": \"x\"}"]);
        var e3 = Assert.Throws<InvalidDataException>(() => LmEval.Run([m], new LmEvalOptions { Inputs = [jsonl] }));
        Assert.Contains("bad.jsonl:1: no field 'text'", e3.Message);
        Assert.Throws<ArgumentException>(() => LmEval.Run([m], new LmEvalOptions { Inputs = [jsonl], Stride = 100 }));
        var e4 = Assert.Throws<FileNotFoundException>(() => EvalModel.Load(dir["empty"]));
        Assert.Contains("holds no model.safetensors", e4.Message);
    }
}
