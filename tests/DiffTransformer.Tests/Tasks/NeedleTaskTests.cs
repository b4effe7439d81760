using DiffTransformer.Data;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tests.Data;

namespace DiffTransformer.Tests.Tasks;

public sealed class NeedleTaskTests : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly ITokenizer Bytes = Tokenizers.Create("byte");
    private static readonly NeedleTemplate Template = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("byte")]
    [InlineData("gpt2")]
    public void TheNeedleSitsAtTheDepthTheDocumentRecordsAndItsValueWhereItSays(string tokenizerName)
    {
        var tok = Tokenizers.Create(tokenizerName);
        var hay = Haystack.Generated(3);
        var rng = new Random(5);
        var window = hay.Window(tok, 200, rng);
        foreach (double depth in new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })
        {
            var doc = NeedleBuilder.Build(tok, Template, window, [("Paris", "417", depth)]);
            var n = Assert.Single(doc.Needles);
            Assert.Equal(200, doc.HaystackTokens);
            Assert.Equal(doc.Context.Length, 1 + 200 + n.Length);
            Assert.Equal(tok.EndOfText, doc.Context[0]);
            // the recorded depth is the share of haystack tokens before the needle, within the word-start snap of the asked one
            Assert.Equal((n.Start - 1) / 200.0, n.Depth, 12);
            Assert.InRange(n.Depth, depth - NeedleBuilder.MaxSnap / 200.0, depth);
            if (depth == 0) Assert.Equal(1, n.Start);
            if (depth == 1) Assert.Equal(doc.Context.Length, n.Start + n.Length);
            Assert.Equal(" The magic number of Paris is 417.", tok.Decode(doc.Context[n.Start..(n.Start + n.Length)]));
            Assert.Contains("417", tok.Decode(doc.Context[n.ValueStart..(n.ValueStart + n.ValueLength)]));
            Assert.DoesNotContain("is", tok.Decode(doc.Context[n.ValueStart..(n.ValueStart + n.ValueLength)]));
            // the haystack around it is the window, in order
            Assert.Equal(window, doc.HaystackPositions().Select(i => doc.Context[i]).ToArray());
        }
    }

    [Fact]
    public void SeveralNeedlesAreOrderedByDepth()
    {
        var window = Haystack.Generated(1).Window(Bytes, 300, new Random(1));
        var doc = NeedleBuilder.Build(Bytes, Template, window, [("Rome", "111", 0.9), ("Oslo", "222", 0.1), ("Lima", "333", 0.5)]);
        Assert.Equal(["Oslo", "Lima", "Rome"], doc.Needles.Select(n => n.Key));
        Assert.True(doc.Needles.Zip(doc.Needles.Skip(1)).All(p => p.First.Start + p.First.Length <= p.Second.Start));
    }

    [Fact]
    public void TrainingDocumentsAreDeterministicAskWhatTheyHoldAndFitTheContext()
    {
        var options = new NeedleTaskOptions { ContextLength = 160, PlainFraction = 0.25 };
        var hay = Haystack.Generated(2);
        int plain = 0, withQuestions = 0;
        for (int i = 0; i < 200; i++)
        {
            var a = NeedleBuilder.TrainingDocument(options, hay, Bytes, NeedleDataset.DocumentRandom(9, i));
            var b = NeedleBuilder.TrainingDocument(options, hay, Bytes, NeedleDataset.DocumentRandom(9, i));
            Assert.Equal(a, b);
            Assert.InRange(a.Length, NeedleBuilder.MinTrainingLength(options) - 1, 159);
            string text = Bytes.Decode(a);
            if (!text.Contains('\n')) { plain++; continue; }
            withQuestions++;
            foreach (var line in text.Split('\n').Skip(1))       // each question's answer is the value its needle states
            {
                var m = System.Text.RegularExpressions.Regex.Match(line, @"^What is the magic number of (\w+)\? The magic number of \1 is (\d+)\.$");
                Assert.True(m.Success, line);
                Assert.Contains($"The magic number of {m.Groups[1].Value} is {m.Groups[2].Value}.", text);
            }
        }
        Assert.InRange(plain, 25, 80);
        Assert.True(withQuestions > 100);
    }

    [Fact]
    public void DenseDocumentsAskEveryNeedleInLittleHaystack()
    {
        var options = new NeedleTaskOptions { ContextLength = 512, DenseFraction = 1, PlainFraction = 0 };
        var hay = Haystack.Generated(4);
        for (int i = 0; i < 50; i++)
        {
            string text = Bytes.Decode(NeedleBuilder.TrainingDocument(options, hay, Bytes, NeedleDataset.DocumentRandom(3, i)));
            string context = text[..text.IndexOf('\n')];
            var stated = System.Text.RegularExpressions.Regex.Matches(context, @"The magic number of (\w+) is (\d+)\.").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
            var asked = System.Text.RegularExpressions.Regex.Matches(text, @"\nWhat is the magic number of (\w+)\? The magic number of \1 is (\d+)\.").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
            Assert.NotEmpty(stated);
            Assert.Equal(stated.OrderBy(x => x), asked.OrderBy(x => x));                 // every needle asked, each answered with its value
            Assert.InRange(context.Length - stated.Sum(x => $" The magic number of {x.Item1} is {x.Item2}.".Length), 4, 16);
        }
    }

    [Fact]
    public void DatasetIsWrittenWithItsTaskFileAndReadBack()
    {
        dir.WriteText("corpus/a.txt", string.Join(" ", Enumerable.Repeat("It was the best of times, it was the worst of times.", 200)));
        var options = new NeedleTaskOptions { ContextLength = 128 };
        var meta = NeedleDataset.Write(dir["ds"], options, [dir["corpus"]], "text", 50, 10, seed: 4);
        Assert.Equal(["needle_task.json"], meta.ExtraFiles);
        var task = NeedleDataset.ReadTask(dir["ds"]);
        Assert.NotNull(task);
        Assert.Equal(128, task.Options.ContextLength);
        Assert.Equal([Path.GetFullPath(dir["corpus"])], task.Haystack);
        using var ds = TokenDataset.Open(dir["ds"]);
        Assert.Equal(50, ds.Train.Documents);
        var again = NeedleDataset.Write(dir["ds2"], options, [dir["corpus"]], "text", 50, 10, seed: 4);
        Assert.Equal(meta.Train.Tokens, again.Train.Tokens);
        Assert.Equal(File.ReadAllBytes(dir["ds/train_00000.bin"]), File.ReadAllBytes(dir["ds2/train_00000.bin"]));
    }

    [Fact]
    public void TrainingScoresANeedleDatasetWithItsOwnEvaluator()
    {
        var options = new NeedleTaskOptions { ContextLength = 128 };
        NeedleDataset.Write(dir["ds"], options, [], "text", 20, 5, seed: 2);
        var evaluator = DiffTransformer.Tasks.BuiltinTask.Evaluator(dir["ds"], maxSeqLen: 128);
        Assert.IsType<NeedleTaskEvaluator>(evaluator);
        DiffTransformer.Model.ModelConfig config = new() { VocabSize = 257, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 128 };
        TorchSharp.torch.manual_seed(1);
        using var model = new DiffTransformer.Model.LanguageModel(config);
        var scores = evaluator.Evaluate(model);
        Assert.InRange(scores["needle_acc"], 0, 1);
        Assert.InRange(scores["needle_unsupported"], 0, 1);
        Assert.Equal(scores, evaluator.Evaluate(model));                               // the same prompts every time
        Assert.Contains("max_seq_len is 64", Assert.Throws<DiffTransformer.Model.ConfigException>(() => DiffTransformer.Tasks.BuiltinTask.Evaluator(dir["ds"], 64)).Message);
    }

    [Fact]
    public void AtATrainingContextOf128TheFactsTaskStillMeasuresFaithfulness()
    {
        // with a distractor needle, the counterfactual questions of the built-in facts task need more than 128 tokens
        var options = DiffTransformer.Tasks.BuiltinTask.NeedleOptions(DiffTransformer.Tasks.BuiltinTaskKind.Facts, 128);
        NeedleDataset.Write(dir["facts128"], options, [], "text", 20, 5, seed: 2);
        var evaluator = DiffTransformer.Tasks.BuiltinTask.Evaluator(dir["facts128"], maxSeqLen: 128)!;
        DiffTransformer.Model.ModelConfig config = new() { VocabSize = 257, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 128 };
        TorchSharp.torch.manual_seed(1);
        using var model = new DiffTransformer.Model.LanguageModel(config);
        var scores = evaluator.Evaluate(model);
        foreach (var k in new[] { "fact_faithful", "fact_hallucinated", "fact_memory" }) Assert.InRange(scores[k], 0, 1);
    }

    [Fact]
    public void WhetherAFactPromptCellFitsDoesNotDependOnTheSamplesDrawn()
    {
        var hay = Haystack.Generated(1);
        var task = DiffTransformer.Tasks.BuiltinTask.NeedleOptions(DiffTransformer.Tasks.BuiltinTaskKind.Facts, 256);
        for (int length = 140; length <= 170; length++)
        {
            var all = NeedleBuilder.FactPrompts(Bytes, hay, task, FactProbe.Counterfactual, length, 6, distractors: 1, depth: -1, samples: 32, seed: 5);
            Assert.True(all.Count is 0 or 32, $"length {length}: {all.Count} of 32 prompts");
            Assert.All(all, p => Assert.True(p.Prompt.Tokens.Length + 6 <= length));
            for (int samples = 1; samples < 32; samples *= 2)                         // a few samples fit exactly when many do
            {
                int n = NeedleBuilder.FactPrompts(Bytes, hay, task, FactProbe.Counterfactual, length, 6, distractors: 1, depth: -1, samples, seed: 5).Count;
                Assert.True(n == (all.Count == 0 ? 0 : samples), $"length {length}: {n} of {samples} prompts, but {all.Count} of 32");
            }
        }
    }

    [Fact]
    public void BadHaystacksAndTemplatesAreNamed()
    {
        dir.WriteText("empty/a.txt", "   ");
        var e = Assert.Throws<InvalidDataException>(() => Haystack.FromFiles([dir["empty"]]));
        Assert.Contains("is empty", e.Message);
        var small = Haystack.FromFiles([dir.WriteText("small.txt", "only a few words here")]);
        var e2 = Assert.Throws<InvalidDataException>(() => small.Window(Bytes, 500, new Random(1)));
        Assert.Contains("fewer than the 500", e2.Message);
        Assert.Contains("has no {value}", Assert.Throws<ArgumentException>(() => new NeedleTemplate { Needle = "The number of {key}." }.Validate()).Message);
        Assert.Contains("must not give away", Assert.Throws<ArgumentException>(() => new NeedleTemplate { Question = "{key} is {value}?" }.Validate()).Message);
    }
}
