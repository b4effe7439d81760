using DiffTransformer.Evaluation;
using DiffTransformer.Tasks;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;

namespace DiffTransformer.Tests.Evaluation;

public sealed class FaithfulnessEvalTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();
    private static readonly DiffTransformer.Data.ITokenizer Bytes = DiffTransformer.Data.Tokenizers.Create("byte");

    public void Dispose() => dir.Dispose();

    /// <summary>Short needles so that several fit the 64-token context of the test models.</summary>
    private static NeedleTaskOptions ShortFacts => new()
    {
        Keys = ["ab", "cd", "ef"], MaxNeedles = 2, ContextLength = 64, Template = new NeedleTemplate { Needle = "{key}={value}.", Question = "{key}?" },
        Facts = [new("xy", "512"), new("zw", "738")],
    };

    [Theory]
    [InlineData(" 417.", FactAnswerClass.Context)]
    [InlineData(" 512.", FactAnswerClass.Memory)]
    [InlineData(" 982", FactAnswerClass.Misattributed)]
    [InlineData(" 1999", FactAnswerClass.FromHaystack)]
    [InlineData(" 333", FactAnswerClass.Unsupported)]
    [InlineData(" no", FactAnswerClass.NoNumber)]
    public void FactAnswersAreClassified(string generated, FactAnswerClass expected)
    {
        string context = "In 1999 the magic number of Dakar is 417. Then the magic number of Rome is 982.";
        Assert.Equal(expected, NeedleAnswers.ClassifyFact(generated, "417", "512", ["982"], context));
        // closed book: nothing stated for the key, so the memorised value is the right answer and 417 is another number of the context
        if (expected == FactAnswerClass.Memory) Assert.Equal(FactAnswerClass.Memory, NeedleAnswers.ClassifyFact(generated, null, "512", ["417", "982"], context));
    }

    [Fact]
    public void ProbesStateWhatTheySay()
    {
        var hay = Haystack.Generated(1);
        var task = BuiltinTask.NeedleOptions(BuiltinTaskKind.Facts, 256);
        Assert.Equal(8, task.Facts.Count);
        foreach (var probe in Enum.GetValues<FactProbe>())
        {
            var prompts = NeedleBuilder.FactPrompts(Bytes, hay, task, probe, 256, 6, distractors: 2, depth: -1, samples: 16, seed: 3);
            Assert.Equal(16, prompts.Count);
            foreach (var p in prompts)
            {
                var needles = p.Prompt.Document.Needles;
                Assert.True(p.Prompt.Tokens.Length + 6 <= 256);
                var fact = task.Facts[p.Prompt.Sample % task.Facts.Count];
                string text = Bytes.Decode(p.Prompt.Tokens);
                Assert.EndsWith($"What is the magic number of {p.Prompt.Key}? The magic number of {p.Prompt.Key} is", text);
                switch (probe)
                {
                    case FactProbe.Counterfactual:            // the fact is stated, with a value other than the memorised one
                        Assert.Equal(3, needles.Count);
                        Assert.Equal(fact.Key, p.Prompt.Key);
                        Assert.Equal(p.ContextValue, needles.Single(n => n.Key == fact.Key).Value);
                        Assert.NotEqual(fact.Value, p.ContextValue);
                        Assert.Equal(fact.Value, p.MemorisedValue);
                        break;
                    case FactProbe.ClosedBook:                // the fact is asked but not stated; its memorised value appears in no needle
                        Assert.Equal(2, needles.Count);
                        Assert.DoesNotContain($"of {fact.Key} is", text[..text.LastIndexOf('\n')]);
                        Assert.Null(p.ContextValue);
                        Assert.DoesNotContain(fact.Value, needles.Select(n => n.Value));
                        break;
                    default:                                  // an ordinary key, stated
                        Assert.Equal(3, needles.Count);
                        Assert.Contains(p.Prompt.Key, task.Keys);
                        Assert.Equal(p.ContextValue, needles.Single(n => n.Key == p.Prompt.Key).Value);
                        Assert.Null(p.MemorisedValue);
                        break;
                }
            }
        }
    }

    [Fact]
    public void FactsTrainingDocumentsAnswerFromMemoryOrFromTheContext()
    {
        var options = BuiltinTask.NeedleOptions(BuiltinTaskKind.Facts, 256) with { FactFraction = 1, PlainFraction = 0 };
        var hay = Haystack.Generated(2);
        int memory = 0, stated = 0;
        for (int i = 0; i < 200; i++)
        {
            string text = Bytes.Decode(NeedleBuilder.TrainingDocument(options, hay, Bytes, NeedleDataset.DocumentRandom(5, i)));
            var qa = System.Text.RegularExpressions.Regex.Match(text, @"\nWhat is the magic number of (\w+)\? The magic number of \1 is (\d+)\.$");
            Assert.True(qa.Success, text);
            var fact = options.Facts.Single(f => f.Key == qa.Groups[1].Value);
            string context = text[..qa.Index];
            var statement = System.Text.RegularExpressions.Regex.Match(context, $@"The magic number of {fact.Key} is (\d+)\.");
            if (statement.Success)
            {
                stated++;
                Assert.Equal(statement.Groups[1].Value, qa.Groups[2].Value);     // stated: the answer follows the context…
                Assert.NotEqual(fact.Value, qa.Groups[2].Value);                  // …which overrides the memorised value
            }
            else
            {
                memory++;
                Assert.Equal(fact.Value, qa.Groups[2].Value);
            }
        }
        Assert.InRange(stated, 70, 130);                                          // OverrideFraction 0.5 of 200
        Assert.Equal(200, stated + memory);
    }

    [Fact]
    public void TheSuiteCountsEveryAnswerAndWritesItsReport()
    {
        NeedleDataset.Write(dir["facts"], ShortFacts, [], "text", 20, 5, seed: 3);
        using var diff = EvalModel.Load(checkpoints.Diff);
        using var baseline = EvalModel.Load(checkpoints.Save("faith-base", TinyCheckpoints.Config(DiffTransformer.Model.Architecture.Transformer)));
        var options = new FaithfulnessEvalOptions { Data = dir["facts"], Lengths = [48, 64], Distractors = [0, 1], Samples = 4 };
        var result = FaithfulnessEval.Run([diff, baseline], options);
        foreach (var m in result.Models)
        {
            Assert.Equal(2 * 2 * 3, m.Cells.Count);
            Assert.All(m.Cells, c => Assert.True(c.Fits));
            Assert.All(m.Cells, c => Assert.Equal(4, c.Questions));
            Assert.Equal(48, m.Answers.Count);
            foreach (var probe in Enum.GetValues<FactProbe>()) Assert.Equal(1.0, m.ClassRates(probe).Values.Sum(), 9);
            var cf = m.Answers.Where(a => a.Probe == FactProbe.Counterfactual).ToList();
            Assert.Equal(cf.Count(a => a.Class == FactAnswerClass.Context) / (double)cf.Count, m.Faithful, 12);
            Assert.Equal(cf.Count(a => a.Class == FactAnswerClass.Memory) / (double)cf.Count, m.Hallucinated, 12);
        }
        Assert.Equal(result.Models[0].Answers.Select(a => (a.Key, a.ContextValue)), FaithfulnessEval.Run([diff], options).Models[0].Answers.Select(a => (a.Key, a.ContextValue)));
        string md = result.ToMarkdown();
        Assert.Contains("| model | faithful | hallucinated |", md);
        var (json, _) = EvalReport.Write(dir["out"], "faithfulness", "difft eval faithfulness (test)", [diff.Info, baseline.Info], options, result, md);
        Assert.Contains("\"counterfactual\"", File.ReadAllText(json));
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var m = EvalModel.Load(checkpoints.Diff);
        var e = Assert.Throws<ArgumentException>(() => FaithfulnessEval.Run([m], new FaithfulnessEvalOptions()));
        Assert.Contains("not inside a run directory", e.Message);
        NeedleDataset.Write(dir["needle"], ShortFacts with { Facts = [] }, [], "text", 5, 2, seed: 3);
        Assert.Contains("has no fixed facts", Assert.Throws<ArgumentException>(() => FaithfulnessEval.Run([m], new FaithfulnessEvalOptions { Data = dir["needle"] })).Message);
        Assert.Contains("no such directory", Assert.Throws<DirectoryNotFoundException>(() => FaithfulnessEval.Run([m], new FaithfulnessEvalOptions { Data = dir["nothing"] })).Message);
        NeedleDataset.Write(dir["facts"], ShortFacts, [], "text", 5, 2, seed: 3);
        Assert.Contains("prompt length 128 is longer than the context of the model at",
            Assert.Throws<ArgumentException>(() => FaithfulnessEval.Run([m], new FaithfulnessEvalOptions { Data = dir["facts"], Lengths = [128] })).Message);
        Assert.Contains("distractors 5 is outside [0, 2]",
            Assert.Throws<ArgumentException>(() => FaithfulnessEval.Run([m], new FaithfulnessEvalOptions { Data = dir["facts"], Lengths = [64], Distractors = [5] })).Message);
        Assert.Contains("is also a needle key", Assert.Throws<ArgumentException>(() => (ShortFacts with { Facts = [new("ab", "123")] }).Validate()).Message);
    }
}
