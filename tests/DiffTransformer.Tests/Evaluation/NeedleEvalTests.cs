using DiffTransformer.Evaluation;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;

namespace DiffTransformer.Tests.Evaluation;

public sealed class NeedleEvalTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(" 417.", AnswerClass.Correct)]
    [InlineData("417", AnswerClass.Correct)]
    [InlineData(" 982.", AnswerClass.Misattributed)]
    [InlineData(" 1999 was", AnswerClass.FromHaystack)]
    [InlineData(" 41.", AnswerClass.Unsupported)]          // a prefix of the answer is not in the context as a number
    [InlineData(" 4170", AnswerClass.Unsupported)]
    [InlineData(" the", AnswerClass.NoNumber)]
    [InlineData("\n417", AnswerClass.NoNumber)]            // only the answer's line counts
    public void AnswersAreClassified(string generated, AnswerClass expected)
    {
        string context = "In 1999 the magic number of Paris is 417. Then the magic number of Rome is 982.";
        Assert.Equal(expected, NeedleAnswers.Classify(generated, "417", ["982"], context));
    }

    [Fact]
    public void CellPromptsPutTheAskedNeedlesAtTheDepthAndFitTheLength()
    {
        var tok = DiffTransformer.Data.Tokenizers.Create("byte");
        var hay = Haystack.Generated(1);
        var options = new NeedleEvalOptions { Samples = 3 };
        foreach (double depth in new[] { 0.0, 0.5, 1.0 })
        {
            var prompts = NeedleEval.CellPrompts(tok, hay, options, new NeedleGridCell(400, new NeedleSetting(4, 2), depth, 7));
            Assert.Equal(6, prompts.Count);                                // 3 documents × 2 questions
            foreach (var p in prompts)
            {
                Assert.True(p.Tokens.Length + options.MaxNewTokens <= 400);
                var asked = p.Document.Needles.Single(n => n.Key == p.Key);
                Assert.Equal(p.Value, asked.Value);
                Assert.InRange(asked.Depth, depth - NeedleBuilder.MaxSnap / (double)p.Document.HaystackTokens, depth);
                Assert.EndsWith($"\nWhat is the magic number of {p.Key}? The magic number of {p.Key} is", tok.Decode(p.Tokens));
                Assert.Equal(3, p.OtherValues.Count);
                Assert.DoesNotContain(p.Value, p.OtherValues);
            }
            var again = NeedleEval.CellPrompts(tok, hay, options, new NeedleGridCell(400, new NeedleSetting(4, 2), depth, 7));   // deterministic
            Assert.Equal(prompts.Select(p => p.Tokens), again.Select(p => p.Tokens));
        }
        Assert.Empty(NeedleEval.CellPrompts(tok, hay, options, new NeedleGridCell(100, new NeedleSetting(6, 2), 0.5, 7)));   // six needles do not fit 100 tokens
    }

    [Fact]
    public void TheGridRunsOnSavedModelsAndWritesItsReport()
    {
        using var diff = EvalModel.Load(checkpoints.Diff);
        using var baseline = EvalModel.Load(checkpoints.Save("needle-base", TinyCheckpoints.Config(DiffTransformer.Model.Architecture.Transformer)));
        var shortNeedles = new NeedleTaskOptions { Keys = ["ab", "cd", "ef"], MaxNeedles = 2, Template = new NeedleTemplate { Needle = "{key}={value}.", Question = "{key}?" } };
        var options = new NeedleEvalOptions { Settings = [new(1, 1), new(2, 2)], Depths = [0, 1], Lengths = [48, 64], Samples = 2, Task = shortNeedles };
        var result = NeedleEval.Run([diff, baseline], options);
        Assert.Equal(2, result.Models.Count);
        foreach (var m in result.Models)
        {
            Assert.Equal(2 * 2 * 2, m.Cells.Count);
            Assert.All(m.Cells, c => Assert.True(c.Fits));
            Assert.All(m.Cells.Where(c => c.Fits), c => Assert.Equal(2 * (c.Setting == "1/1" ? 1 : 2), c.Questions));
            Assert.Equal(m.Cells.Sum(c => c.Questions), m.Answers.Count);
            Assert.Equal(1.0, m.ClassRates.Values.Sum(), 9);
        }
        string md = result.ToMarkdown();
        Assert.Contains("## Accuracy by N/R", md);
        var (json, _) = EvalReport.Write(dir["out"], "needle", "difft eval needle (test)", [diff.Info, baseline.Info], options, result, md);
        Assert.Contains("\"misattributed\"", File.ReadAllText(json));
        NeedlePlot.Write(dir["out/needle-diff.png"], result.Models[0], result.Lengths, result.Depths);
        Assert.True(new FileInfo(dir["out/needle-diff.png"]).Length > 1000);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var m = EvalModel.Load(checkpoints.Diff);
        var e = Assert.Throws<ArgumentException>(() => NeedleEval.Run([m], new NeedleEvalOptions { Lengths = [128] }));
        Assert.Contains("prompt length 128 is longer than the context of the model at", e.Message);
        dir.WriteText("empty/a.txt", " ");
        Assert.Contains("is empty", Assert.Throws<InvalidDataException>(() => NeedleEval.Run([m], new NeedleEvalOptions { Lengths = [64], Haystack = [dir["empty"]] })).Message);
        var badKey = new NeedleTaskOptions { Keys = ["Pa\uD800ris", "Rome"], MaxNeedles = 2 };
        var e3 = Assert.Throws<ArgumentException>(() => NeedleEval.Run([m], new NeedleEvalOptions { Lengths = [64], Task = badKey, Settings = [new(1, 1)] }));
        Assert.True(e3.Message.Contains("cannot encode the needle", StringComparison.Ordinal), e3.Message);
        Assert.Contains("is not N/R", Assert.Throws<ArgumentException>(() => NeedleSetting.Parse("4-2")).Message);
        Assert.Contains("outside [0, 1]", Assert.Throws<ArgumentException>(() => NeedleEval.Run([m], new NeedleEvalOptions { Lengths = [64], Depths = [50] })).Message);
    }
}
