using DiffTransformer.Evaluation;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Icl;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tests.Inference;
using DiffTransformer.Tests.Tasks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Evaluation;

public sealed class IclEvalTests(TinyCheckpoints checkpoints, ITestOutputHelper log) : IClassFixture<TinyCheckpoints>, IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static ModelConfig Config(Architecture arch) => TinyCheckpoints.Config(arch) with { MaxSeqLen = 160 };

    /// <summary>A model whose weights are all zero: every next token is equally likely, so no label name is ever preferred.</summary>
    private string Blank()
    {
        string path = dir["blank"];
        if (Directory.Exists(path)) return path;
        using var model = new LanguageModel(Config(Architecture.Diff));
        using (no_grad()) foreach (var p in model.parameters()) p.mul_(Scalars.Of(0));
        ModelStore.Save(model, path, "byte");
        return path;
    }

    private IclEvalOptions Options(params int[] shots) => new()
    {
        Inputs = [IclTestData.Write(dir, "labelled.jsonl")], Task = new IclTaskOptions { MaxTextBytes = 24 },
        Shots = shots.Length == 0 ? null : shots, Sets = 2, Queries = 6, OrderSets = 2, Orders = 3,
    };

    [Fact]
    public void TheSpreadOfCraftedAccuraciesIsTheirMeanSampleDeviationAndRange()
    {
        var spread = OrderSpread.Of([0.5, 0.75, 1.0, 0.75]);
        Assert.Equal(0.75, spread.Mean, 12);
        Assert.Equal(Math.Sqrt((0.0625 + 0 + 0.0625 + 0) / 3), spread.Std, 12);         // sample deviation: P − 1
        Assert.Equal((1.0, 0.5, 0.5), (spread.Best, spread.Worst, spread.BestMinusWorst));
        Assert.Equal(0, OrderSpread.Of([0.4]).Std);
        var mean = OrderSpread.MeanOf([spread, OrderSpread.Of([0.25, 0.25, 0.25, 0.25])]);
        Assert.Equal((0.5, spread.Std / 2, 0.625, 0.375, 0.25), (mean.Mean, mean.Std, mean.Best, mean.Worst, mean.BestMinusWorst));
        var set = new IclOrderSet(0, [0.5, 1.0], [0.25, 0.75, 0.5]);
        Assert.Equal(0.5, set.RandomSpread.BestMinusWorst);
        Assert.Equal(0.5, set.GroupedSpread.Mean);
        Assert.Equal([1, 2, 4, 7], IclEval.DefaultShots(7));
        Assert.Equal([1, 2, 4], IclEval.DefaultShots(4));
        Assert.Equal([1], IclEval.DefaultShots(1));
    }

    [Fact]
    public void AModelThatCannotTellTheNamesApartScoresExactlyChanceAtEveryShotAndInEveryOrder()
    {
        // every name is 5 byte tokens, each of probability 1/257: ties, and a tie goes to the lowest slot; the queries are
        // balanced over the 3 classes (6 a set), so exactly one in three is the first slot's
        using var m = EvalModel.Load(Blank());
        var r = IclEval.Run([m], Options(1, 2, 3));
        var score = Assert.Single(r.Models);
        Assert.Equal(1.0 / 3, r.Chance);
        Assert.Equal([1, 2, 3], score.Shots.Select(p => p.Shots));
        Assert.All(score.Shots, p => Assert.Equal((12, 4), (p.Queries, p.Correct)));
        Assert.All(score.Shots, p => Assert.Equal([2, 2], p.CorrectPerSet));
        Assert.All(score.OrderSets, s => Assert.All(s.Random.Concat(s.Grouped), a => Assert.Equal(1.0 / 3, a, 12)));
        Assert.Equal((1.0 / 3, 0.0, 0.0), (score.Random!.Mean, score.Random.Std, score.Random.BestMinusWorst), new Tolerance());
        Assert.Equal(4, r.OrderShots);                 // the most the context holds: ⌊159 / 30⌋ − 1 (texts up to 20 bytes, " →" 4, names 6)
        Assert.Equal(4, r.MaxShots);
    }

    [Fact]
    public void ModelsSeeTheSameEpisodesTheFiguresRepeatBitForBitAndTheReportHoldsThem()
    {
        using var diff = EvalModel.Load(checkpoints.Save("icl-diff", Config(Architecture.Diff)));
        using var baseline = EvalModel.Load(checkpoints.Save("icl-transformer", Config(Architecture.Transformer)));
        var options = Options();
        var r = IclEval.Run([diff, baseline], options);
        foreach (var s in r.Models)
            log.WriteLine($"{s.Model.Label}: {string.Join(", ", s.Shots.Select(p => $"{p.Shots}: {p.Accuracy:F3}"))}; random {s.Random!.Mean:F3} ± {s.Random.Std:F3} " +
                          $"(range {s.Random.BestMinusWorst:F3}), grouped {s.Grouped!.Mean:F3} ± {s.Grouped.Std:F3} (range {s.Grouped.BestMinusWorst:F3})");
        Assert.Equal([1, 2, 4], r.Models[0].Shots.Select(p => p.Shots));                  // default: 1, 2, … and the most that fit
        Assert.All(r.Models, s => Assert.All(s.Shots, p => Assert.InRange(p.Accuracy, 0, 1)));
        Assert.All(r.Models, s => Assert.Equal(2, s.OrderSets.Count));
        Assert.All(r.Models, s => Assert.All(s.OrderSets, o => Assert.Equal((3, 3), (o.Random.Count, o.Grouped.Count))));
        var again = IclEval.Run([diff], options);
        Assert.Equal(Figures(r.Models[0]), Figures(again.Models[0]));
        string md = r.ToMarkdown();
        Assert.Contains("## Accuracy against the number of demonstrations", md);
        Assert.Contains("| shots | DIFF (", md);
        Assert.Contains("## Order robustness", md);
        Assert.Contains("Figure 7", md);
        IclPlot.WriteShots(dir["shots.png"], r);
        IclPlot.WriteOrders(dir["orders.png"], r);
        Assert.True(new FileInfo(dir["shots.png"]).Length > 1000 && new FileInfo(dir["orders.png"]).Length > 1000);
    }

    private static List<double> Figures(IclModelScore s) =>
        [.. s.Shots.Select(p => p.Accuracy), .. s.OrderSets.SelectMany(o => o.Random.Concat(o.Grouped))];

    [Fact]
    public void BadOptionsAreRefusedNamingTheValueAndTheModel()
    {
        using var m = EvalModel.Load(Blank());
        string Refused(IclEvalOptions o) { var e = Assert.ThrowsAny<ArgumentException>(() => IclEval.Run([m], o)); log.WriteLine(e.Message); return e.Message; }
        Assert.Contains($"--shots 5: the context of the model at {m.Path} (160 tokens) holds at most 4 demonstrations", Refused(Options(1, 5)));
        Assert.Contains($"--shots 3: the context of the model at {m.Path} (100 tokens) holds at most 2", Refused(Options(1, 3) with { Context = 100 }));   // ⌊99 / 30⌋ − 1
        Assert.Contains($"--context 200 is longer than the context of the model at {m.Path} (max_seq_len 160)", Refused(Options() with { Context = 200 }));
        Assert.Contains("--shots must ascend without repeats, got 2 1", Refused(Options(2, 1)));
        Assert.Contains("--shots 0: at least 1", Refused(Options(0, 1)));
        Assert.Contains("--orders must be at least 2", Refused(Options() with { Orders = 1 }));
        Assert.Contains("--order-shots 9 is outside [1, 4]", Refused(Options() with { OrderShots = 9 }));
        Assert.Contains("--sets must be at least 1", Refused(Options() with { Sets = 0 }));
        Assert.Contains($"the context of the model at {m.Path} (max_seq_len) of 160 tokens cannot hold even 1 demonstration and a query",
            Refused(Options() with { Task = new IclTaskOptions { MaxTextBytes = 200 }, Inputs = [dir.WriteJsonl("long.jsonl",
                Enumerable.Range(0, 40).Select(i => $"{{\"text\": \"{new string('x', 60)} {i} {new string('y', 60)}\", \"label\": \"{i % 2}\"}}"))] }));
        Assert.Contains("is not inside a run directory whose run.json names its data; give the labelled examples", Refused(Options() with { Inputs = [] }));
    }

    private sealed class Tolerance : IEqualityComparer<(double, double, double)>
    {
        public bool Equals((double, double, double) a, (double, double, double) b) =>
            Math.Abs(a.Item1 - b.Item1) < 1e-12 && Math.Abs(a.Item2 - b.Item2) < 1e-12 && Math.Abs(a.Item3 - b.Item3) < 1e-12;
        public int GetHashCode((double, double, double) obj) => 0;
    }
}
