using System.Text.Json;
using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Icl;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Tasks;

/// <summary>Labelled JSONL for the icl tests: short texts whose words tell their class.</summary>
internal static class IclTestData
{
    public static readonly string[] Words = ["sun", "rain", "snow", "wind"];

    /// <summary><paramref name="perClass"/> examples of each of <paramref name="classes"/> classes, labels "c0", "c1", …, interleaved.</summary>
    public static string Write(TempDir dir, string name, int classes = 3, int perClass = 40) =>
        dir.WriteJsonl(name, Enumerable.Range(0, perClass).SelectMany(i => Enumerable.Range(0, classes).Select(c =>
            JsonSerializer.Serialize(new Dictionary<string, object> { ["text"] = $"{Words[c]} {Words[c]} number {i * classes + c}", ["label"] = $"c{c}" }))));
}

public sealed class IclTaskTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly ITokenizer Bytes = Tokenizers.Create("byte");

    public void Dispose() => dir.Dispose();

    private IclExampleSet Set(IclTaskOptions? options = null, int classes = 3, int perClass = 40) =>
        IclExamples.Read([IclTestData.Write(dir, $"ex-{classes}-{perClass}.jsonl", classes, perClass)], options ?? new IclTaskOptions());

    /// <summary>The demonstrations of a document (after its end-of-text), as (text, name) pairs.</summary>
    private static List<(string Text, string Name)> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(" → ")).Select(p => (p[0], p[1])).ToList();

    [Fact]
    public void TheSplitIsAFunctionOfTheTextAndHoldsOutAboutTheFractionAsked()
    {
        var texts = Enumerable.Range(0, 2000).Select(i => $"example text {i}").ToList();
        double share = texts.Count(t => IclExamples.IsTest(t, 0.2)) / (double)texts.Count;
        log.WriteLine($"held out: {share:P1}");
        Assert.InRange(share, 0.17, 0.23);
        Assert.All(texts, t => Assert.Equal(IclExamples.IsTest(t, 0.2), IclExamples.IsTest(new string(t), 0.2)));
        // the kept text decides: whitespace folded, cut to the bytes kept at a character boundary, the separator written otherwise
        Assert.Equal("ab cd", IclExamples.KeepText("  ab \n\t cd  ", 10));
        Assert.Equal("ab", IclExamples.KeepText("ab cd", 3));
        Assert.Equal("a -> b", IclExamples.KeepText("a → b", 10));
        Assert.Equal("x", IclExamples.KeepText("x\U0001F600", 4));                       // 1 + 4 bytes: a character is never split
        Assert.Equal("\u00e9\u00e9", IclExamples.KeepText("\u00e9\u00e9\u00e9", 5));
        var set = Set(new IclTaskOptions { MaxTextBytes = 18 });
        Assert.Equal(["c0", "c1", "c2"], set.Classes);
        Assert.All(set.Examples, e => Assert.Equal(IclExamples.IsTest(e.Text, 0.2), e.Test));
        Assert.All(set.Examples, e => Assert.True(e.Text.Length <= 18));
        Assert.Contains(set.Examples, e => e.Text == "rain rain number 1");                   // "rain rain number 10", cut
    }

    [Fact]
    public void EpisodesNeverLeakATestExampleIntoTheirDemonstrationsAndTheirLabelNamesVary()
    {
        var options = new IclTaskOptions();
        var set = Set(options);
        var encoding = IclFormat.Encode(Bytes, set, options);
        var testTexts = set.Examples.Where(e => e.Test).Select(e => e.Text).ToHashSet();
        var trainTexts = set.Examples.Where(e => !e.Test).Select(e => e.Text).ToHashSet();
        Assert.Empty(testTexts.Intersect(trainTexts));
        var namesOfClass0 = new HashSet<string>();
        for (int i = 0; i < 100; i++)
        {
            // training documents hold training examples only, validation documents held-out ones only; each class one name
            foreach (bool test in new[] { false, true })
            {
                var doc = IclEpisodes.TrainingDocument(set, encoding, options, 160, test, DiffTransformer.Tasks.GeneratedSplit.DocumentRandom(9, i));
                Assert.True(doc.Length + 1 <= 160);
                var lines = Lines(Bytes.Decode(doc));
                Assert.True(lines.Count >= 2, "a document holds a demonstration and a query at least");
                Assert.All(lines, l => Assert.Contains(l.Text, test ? testTexts : trainTexts));
                var nameOf = lines.GroupBy(l => set.Classes[set.Examples.First(e => e.Text == l.Text).Class]).ToDictionary(g => g.Key, g => g.Select(l => l.Name).Distinct().Single());
                Assert.Equal(nameOf.Count, nameOf.Values.Distinct().Count());
                Assert.All(nameOf.Values, n => Assert.Contains(n, options.LabelPool));
                if (!test && nameOf.TryGetValue("c0", out var n0)) namesOfClass0.Add(n0);
            }
            // an evaluation episode: demonstrations from the training split, queries from the held-out one
            var episode = IclEpisodes.Draw(set, options, shots: 5, queries: 6, new Random(i));
            Assert.All(episode.Demonstrations, d => Assert.False(set.Examples[d].Test));
            Assert.All(episode.Queries, q => Assert.True(set.Examples[q].Test));
            Assert.Empty(episode.Queries.Select(q => set.Examples[q].Text).Intersect(episode.Demonstrations.Select(d => set.Examples[d].Text)));
            Assert.Equal(3, episode.Names.Distinct().Count());
        }
        log.WriteLine($"class c0 was named {string.Join(", ", namesOfClass0)}");
        Assert.True(namesOfClass0.Count >= 10, $"class c0 took only {namesOfClass0.Count} names in 100 documents");
    }

    [Fact]
    public void DemonstrationsAreBalancedNestedInTheShotsAndGroupedOrdersKeepEachClassTogether()
    {
        var set = Set();
        var drawn = IclEpisodes.Draw(set, new IclTaskOptions(), shots: 7, queries: 9, new Random(3));
        Assert.Equal([3, 2, 2], drawn.Classes.Select(c => drawn.Demonstrations.Count(d => set.Examples[d].Class == c)).ToArray());
        Assert.Equal([3, 3, 3], drawn.Classes.Select(c => drawn.Queries.Count(q => set.Examples[q].Class == c)).ToArray());
        Assert.Equal(drawn.Queries.Length, drawn.Queries.Distinct().Count());
        for (int k = 1; k <= 7; k++)
        {
            var shots = IclEpisodes.FirstShots(drawn, k, new Random(k));
            Assert.Equal(drawn.Demonstrations[..k].Order(), shots.Demonstrations.Order());
            var counts = drawn.Classes.Select(c => shots.Demonstrations.Count(d => set.Examples[d].Class == c)).ToList();
            Assert.True(counts.Max() - counts.Min() <= 1, $"{k} shots: {string.Join(", ", counts)}");
        }
        for (int seed = 0; seed < 20; seed++)
        {
            var grouped = IclEpisodes.GroupedOrder(set, drawn.Demonstrations, new Random(seed));
            Assert.Equal(drawn.Demonstrations.Order(), grouped.Order());
            var classes = grouped.Select(d => set.Examples[d].Class).ToList();
            Assert.Equal(3, classes.Zip(classes.Skip(1)).Count(p => p.First != p.Second) + 1);   // three runs, one per class
            Assert.Equal(drawn.Demonstrations.Order(), IclEpisodes.RandomOrder(drawn.Demonstrations, new Random(seed)).Order());
        }
        var e = Assert.Throws<ArgumentException>(() => IclEpisodes.Draw(Set(perClass: 12), new IclTaskOptions(), shots: 36, queries: 1, new Random(1)));
        Assert.Contains("36 demonstrations of 3 classes need 12 training examples of each, but class \"c", e.Message);
    }

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void ALabelsScoreIsItsTokensLogProbabilityAfterTheQueryAsInTheWholeSequence(Architecture arch)
    {
        var options = new IclTaskOptions();
        var set = Set(options);
        var encoding = IclFormat.Encode(Bytes, set, options);
        using var model = KvCacheTests.SharpModel(new ModelConfig { Arch = arch, VocabSize = 257, EmbedDim = 32, NumLayers = 2, NumHeads = 2, MaxSeqLen = 256 }, 5);
        var episode = IclEpisodes.FirstShots(IclEpisodes.Draw(set, options, 4, 3, new Random(2)), 4, new Random(2));
        var scores = IclScorer.LabelLogProbs(model, encoding, set, episode, batchSize: 4);    // 9 rows: batches of 4, 4 and 1
        var prefix = IclScorer.Prefix(encoding, set, episode);
        double worst = 0;
        using var _ = no_grad();
        for (int q = 0; q < episode.Queries.Length; q++)
            for (int s = 0; s < 3; s++)
            {
                using var scope = NewDisposeScope();
                var query = encoding.Query(episode.Queries[q]);
                var name = encoding.Names[episode.Names[s]];
                int[] all = [.. prefix, .. query, .. name];
                var logp = nn.functional.log_softmax(model.Forward(tensor(all.Select(t => (long)t).ToArray(), [1, all.Length])), -1);   // (1, T, V)
                double expected = 0;
                for (int j = 0; j < name.Length; j++) expected += logp[0, prefix.Length + query.Length - 1 + j, name[j]].item<float>();
                worst = Math.Max(worst, Math.Abs(expected - scores[q][s]));
            }
        log.WriteLine($"{arch}: worst |cached − whole sequence| {worst:E2}");
        Assert.True(worst < 1e-3, $"scores differ from the whole sequence's by {worst}");
        var predicted = IclScorer.Predict(scores);
        Assert.Equal(predicted.Where((p, i) => p == episode.Slot(set.Examples[episode.Queries[i]].Class)).Count(), IclScorer.Correct(model, encoding, set, episode));
        Assert.Equal([1, 0, 2], IclScorer.Predict([[-2.0, -1.0, -3.0], [-1.0, -1.0, -5.0], [-9.0, -8.0, -0.5]]));   // ties: the lowest slot
    }

    [Fact]
    public void BadInputIsRefusedNamingTheFileFieldOrValue()
    {
        var options = new IclTaskOptions();
        string good = IclTestData.Write(dir, "good.jsonl");
        string Refused(Action a) { var e = Record.Exception(a); Assert.NotNull(e); log.WriteLine(e.Message); return e.Message; }

        string noText = dir.WriteJsonl("notext.jsonl", ["{\"text\": \"a\", \"label\": \"x\"}", "{\"body\": \"b\", \"label\": \"y\"}"]);
        Assert.Contains($"{noText}:2: no field 'text' (choose the text field with --text-field)", Refused(() => IclExamples.Read([noText], options)));
        Assert.Contains($"{good}:1: no field 'kind' (choose the label field with --label-field)", Refused(() => IclExamples.Read([good], options with { LabelField = "kind" })));
        string nested = dir.WriteJsonl("nested.jsonl", ["{\"text\": \"a\", \"label\": [1]}"]);
        Assert.Contains($"{nested}:1: label field 'label' is array", Refused(() => IclExamples.Read([nested], options)));
        Assert.Contains($"{nested}:1: text field 'label' is array, not a string", Refused(() => IclExamples.Read([nested], options with { TextField = "label", LabelField = "text" })));
        string one = dir.WriteJsonl("one.jsonl", Enumerable.Range(0, 10).Select(i => $"{{\"text\": \"t{i}\", \"label\": \"ham\"}}"));
        Assert.Contains("the label field 'label' has the single value \"ham\" in 10 examples; in-context classification needs at least 2 classes", Refused(() => IclExamples.Read([one], options)));
        string numbers = dir.WriteJsonl("numbers.jsonl", Enumerable.Range(0, 40).Select(i => $"{{\"text\": \"t{i}\", \"label\": {i % 2}}}"));
        Assert.Equal(["0", "1"], IclExamples.Read([numbers], options).Classes);                // numeric labels are classes too
        string rare = dir.WriteJsonl("rare.jsonl", [.. Enumerable.Range(0, 30).Select(i => $"{{\"text\": \"t{i}\", \"label\": \"a\"}}"), "{\"text\": \"only\", \"label\": \"b\"}"]);
        Assert.Contains("class \"b\" of 'label' has 1 examples", Refused(() => IclExamples.Read([rare], options)));
        Assert.Contains("not a JSONL file", Refused(() => IclExamples.Read([dir.WriteText("plain.txt", "hello")], options)));
        Assert.Contains("ways 4 is more than the 3 classes", Refused(() => IclExamples.Read([good], options with { Ways = 4 })));
        Assert.Contains("label name \"two words\" must be non-empty, without whitespace", Refused(() => (options with { LabelPool = ["one", "two words"] }).Validate()));
        Assert.Contains("episodes of 3 classes need as many label names, but the label pool has 2", Refused(() => IclExamples.Read([good], options with { LabelPool = ["one", "two"] })));
        // a name the tokenizer cannot give back, and a context too short for one demonstration and a query
        var accents = options with { LabelPool = ["caf\u00e9", "two", "six"] };
        var set = IclExamples.Read([good], accents);
        Assert.Contains("the tokenizer 'no-accents' cannot encode the label name \"caf\u00e9\": \" caf\u00e9\" comes back as \" caf?\"", Refused(() => IclFormat.Encode(new NoAccentsTokenizer(), set, accents)));
        Assert.Contains("a training context (--seq-len) of 40 tokens cannot hold even 1 demonstration and a query",
            Refused(() => IclDataset.Write(dir["short"], options, [good], contextLength: 40, trainDocs: 1, valDocs: 1, seed: 1)));
        Assert.False(Directory.Exists(dir["short"]));
    }

    [Fact]
    public void TheDatasetHoldsEpisodesOfTheContextAndItsTaskAndExamplesReadBack()
    {
        var options = new IclTaskOptions { MaxTextBytes = 24 };
        string input = IclTestData.Write(dir, "data.jsonl");
        var meta = IclDataset.Write(dir["ds"], options, [input], contextLength: 128, trainDocs: 50, valDocs: 10, seed: 4);
        Assert.Equal(50, meta.Train.Documents);
        var task = IclDataset.ReadTask(dir["ds"])!;
        Assert.Equal([Path.GetFullPath(input)], task.Examples);
        Assert.Equal(128, task.ContextLength);
        Assert.Equal(["c0", "c1", "c2"], task.Classes);
        var set = IclDataset.ReadExamples(dir["ds"]);
        var read = IclExamples.Read([Path.GetFullPath(input)], options);
        Assert.Equal(read.Source, set.Source);
        Assert.Equal(read.Classes, set.Classes);
        Assert.Equal(read.Examples, set.Examples);
        Assert.Equal(task.TrainExamples, set.Train.Sum(c => c.Length));
        using (var ds = TokenDataset.Open(dir["ds"]))
            foreach (var doc in ds.Train.ReadDocuments(Bytes.EndOfText))
            {
                Assert.InRange(doc.Length + 1, 2, 128);
                Assert.True(Lines(Bytes.Decode(doc)).Count >= 2);
            }
        // the same arguments give the same bytes
        IclDataset.Write(dir["ds2"], options, [input], contextLength: 128, trainDocs: 50, valDocs: 10, seed: 4);
        Assert.Equal(File.ReadAllBytes(Directory.GetFiles(dir["ds"], "train_*").Single()), File.ReadAllBytes(Directory.GetFiles(dir["ds2"], "train_*").Single()));
        Assert.Equal(DiffTransformer.Data.WindowSampling.Documents, DiffTransformer.Tasks.BuiltinTask.DefaultWindows(dir["ds"]));

        using var model = KvCacheTests.SharpModel(new ModelConfig { VocabSize = 257, EmbedDim = 32, NumLayers = 2, NumHeads = 2, MaxSeqLen = 128 }, 3);
        var evaluator = Assert.IsType<IclTaskEvaluator>(DiffTransformer.Tasks.BuiltinTask.Evaluator(dir["ds"], 128));
        var metrics = evaluator.Evaluate(model);
        log.WriteLine($"{evaluator.Shots} shots: icl_acc {metrics["icl_acc"]:F3}, icl_acc_1shot {metrics["icl_acc_1shot"]:F3}");
        Assert.True(evaluator.Shots >= 2);
        Assert.InRange(metrics["icl_acc"], 0, 1);
        Assert.Contains("max_seq_len is 64", Assert.Throws<ConfigException>(() => DiffTransformer.Tasks.BuiltinTask.Evaluator(dir["ds"], 64)).Message);
    }
}

/// <summary>A tokenizer (of characters) that writes 'é' as '?': it cannot encode "café".</summary>
internal sealed class NoAccentsTokenizer : ITokenizer
{
    public string Name => "no-accents";
    public int VocabSize => 65536;
    public int EndOfText => 0;
    public int[] Encode(string text) => text.Select(c => c == '\u00e9' ? '?' : (int)c).ToArray();
    public string Decode(ReadOnlySpan<int> tokens) => new(tokens.ToArray().Select(t => (char)t).ToArray());
}
