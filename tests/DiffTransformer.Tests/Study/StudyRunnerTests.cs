using DiffTransformer.Model;
using DiffTransformer.Study;
using DiffTransformer.Tests.Data;
using DiffTransformer.Training;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Study;

[Collection("serial")] // asserts bit-identical reports across runs: no test may draw from the global torch generator meanwhile
public sealed class StudyRunnerTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    // two seeds of a 1-layer model on the recall task, 12 steps, then two suites: seconds, not minutes
    private const string Plan = """
        {
          "name": "tiny-test",
          "seeds": [1, 2],
          "experiments": [
            {
              "name": "recall",
              "preset": "tiny",
              "model": { "num_layers": 1, "embed_dim": 32 },
              "train": { "task": "recall", "steps": 12, "batch_size": 4, "seq_len": 32, "warmup_steps": 2, "eval_interval": 6, "eval_batches": 1, "checkpoint_interval": 3 },
              "evals": {
                "lm": { "max_documents": 4 },
                "needle": { "lengths": [128], "settings": ["1/1"], "depths": [0.5], "samples": 1 }
              }
            }
          ]
        }
        """;

    private StudyPlan Write(string name, string text) => StudyPlan.Load(tmp.WriteText(name, text));

    /// <summary>Cancels when the given unit's run of <paramref name="arch"/> reports step <paramref name="step"/>.</summary>
    private sealed class StopAt(CancellationTokenSource cts, long seed, Architecture arch, long step) : IProgress<TrainProgress>
    {
        public Func<StudyUnit, Architecture, IProgress<TrainProgress>?> For => (u, a) => u.Seed == seed && a == arch ? this : null;

        public void Report(TrainProgress p)
        {
            if (p.Step >= step) cts.Cancel();
        }
    }

    [Fact]
    public void AnInterruptedStudyResumesReusingFinishedUnitsAndWritesTheSameReport()
    {
        var plan = Write("plan.json", Plan);
        var straight = StudyRunner.Run(plan, new StudyOptions { Out = tmp["a/out"], Results = tmp["a/results"] }, log.WriteLine);
        Assert.Equal(2, straight.Done);

        var options = new StudyOptions { Out = tmp["b/out"], Results = tmp["b/results"] };
        using var cts = new CancellationTokenSource();
        var stop = new StopAt(cts, seed: 2, Architecture.Transformer, step: 4);
        Assert.ThrowsAny<OperationCanceledException>(() => StudyRunner.Run(plan, options, log.WriteLine, stop.For, cancel: cts.Token));
        Assert.NotNull(StudyRecord.Read(tmp["b/results/recall/seed-1"]));
        Assert.Null(StudyRecord.Read(tmp["b/results/recall/seed-2"]));

        var status = StudyRunner.Status(plan, options);
        log.WriteLine(status.ToText());
        Assert.Equal("done", status.Units[0].State);
        Assert.Matches(@"^training: DIFF 12/12, Transformer [3-9]/12 steps$", status.Units[1].State);
        Assert.NotNull(status.MinutesLeft);                                   // estimated from the unit done

        var seed1 = File.GetLastWriteTimeUtc(tmp["b/out/recall/seed-1/diff/metrics.jsonl"]);
        var lines = new List<string>();
        var resumed = StudyRunner.Run(plan, options, m => { lines.Add(m); log.WriteLine(m); });
        Assert.Contains(lines, l => l.StartsWith("recall/seed-1: done", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Transformer: resuming", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("DIFF Transformer: already trained", StringComparison.Ordinal));
        Assert.Equal(seed1, File.GetLastWriteTimeUtc(tmp["b/out/recall/seed-1/diff/metrics.jsonl"]));   // not trained again
        Assert.Equal(straight.Markdown, resumed.Markdown);
        Assert.Equal(File.ReadAllText(tmp["a/results/report.md"]), File.ReadAllText(tmp["b/results/report.md"]));
        Assert.Contains("| train: final validation loss |", resumed.Markdown);
        Assert.Contains("| lm: loss |", resumed.Markdown);
        Assert.Contains("| needle: accuracy |", resumed.Markdown);
        Assert.True(File.Exists(tmp["b/results/recall/seed-2/needle.json"]));
        Assert.True(File.Exists(tmp["b/out/recall/seed-2/eval/needle-1-diff.png"]));

        // a third run does nothing but the report
        lines.Clear();
        StudyRunner.Run(plan, options, lines.Add);
        Assert.Equal(2, lines.Count(l => l.Contains(": done (", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.Contains("training", StringComparison.Ordinal));
    }

    [Fact]
    public void ResultsAloneResumeAStudyAndANewSuiteRunsOnlyItself()
    {
        var plan = Write("plan.json", Plan.Replace("\"seeds\": [1, 2]", "\"seeds\": [1]"));
        var options = new StudyOptions { Out = tmp["out"], Results = tmp["results"] };
        StudyRunner.Run(plan, options, log.WriteLine);
        var before = StudyRecord.Read(tmp["results/recall/seed-1"])!;
        Directory.Delete(tmp["out"], recursive: true);                        // the run directories are lost; the results were kept

        var lines = new List<string>();
        var report = StudyRunner.Run(plan, options, lines.Add);              // nothing to run
        Assert.Contains(lines, l => l.StartsWith("recall/seed-1: done", StringComparison.Ordinal));
        Assert.False(Directory.Exists(tmp["out/recall/seed-1"]));
        Assert.Equal(1, report.Done);

        // a suite added to the plan: the models are trained again (to the same figures) and only that suite runs
        var more = Write("more.json", Plan.Replace("\"seeds\": [1, 2]", "\"seeds\": [1]")
            .Replace("\"lm\": { \"max_documents\": 4 },", "\"lm\": { \"max_documents\": 4 }, \"outliers\": { \"max_documents\": 2 },"));
        Assert.Equal(plan.Units()[0].TrainHash, more.Units()[0].TrainHash);
        lines.Clear();
        StudyRunner.Run(more, options, lines.Add);
        Assert.Contains(lines, l => l.Contains("the trained models are gone", StringComparison.Ordinal));
        Assert.Equal(["recall/seed-1: eval outliers"], lines.Where(l => l.Contains(": eval ", StringComparison.Ordinal)));
        var after = StudyRecord.Read(tmp["results/recall/seed-1"])!;
        Assert.Equal(before.Runs.Select(r => r.ValLoss), after.Runs.Select(r => r.ValLoss));
        Assert.Equal(before.Evals[0].Models, after.Evals[0].Models);           // lm kept as it was
        Assert.Equal(["lm", "outliers", "needle"], after.Evals.Select(e => e.Suite));
    }

    [Fact]
    public void ChangingTheTrainingOfAnExperimentStartsItsUnitsOver()
    {
        var plan = Write("plan.json", Plan.Replace("\"seeds\": [1, 2]", "\"seeds\": [1]"));
        var options = new StudyOptions { Out = tmp["out"] };
        StudyRunner.Run(plan, options, log.WriteLine);
        var longer = Write("longer.json", Plan.Replace("\"seeds\": [1, 2]", "\"seeds\": [1]").Replace("\"steps\": 12", "\"steps\": 15"));
        var lines = new List<string>();
        StudyRunner.Run(longer, options, lines.Add);
        Assert.Contains(lines, l => l.Contains("another declaration", StringComparison.Ordinal));
        Assert.Equal(15, StudyRecord.Read(tmp["out/recall/seed-1"])!.Runs[0].Steps);
    }

    [Theory]
    [InlineData("\"stepz\": 12", "train: The JSON property 'stepz' could not be mapped to any .NET member (unknown field)")]
    [InlineData("\"seed\": 3, \"steps\": 12", "train.seed is the study's")]
    [InlineData("\"steps\": 0", "steps must be positive, got 0")]
    public void APlanIsRefusedBeforeAnythingRunsNamingTheExperimentAndTheField(string steps, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"steps\": 12", steps)));
        Assert.Contains("bad.json", e.Message);
        Assert.Contains("experiment 'recall'", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.False(Directory.Exists(tmp["runs"]));
    }

    [Fact]
    public void UnknownSuitesAndDatasetsAreRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"needle\":", "\"needles\":")));
        Assert.Contains("unknown evaluation suite 'needles' (known: lm, needle, attention, faithfulness, outliers, quant, icl)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"preset\": \"tiny\",", "\"preset\": \"tiny\", \"data\": \"sotu\",")));
        Assert.Contains("data 'sotu' is not among the plan's data", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"samples\": 1", "\"samplez\": 1")));
        Assert.Contains("eval needle options: The JSON property 'samplez'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"1/1\"", "\"1/2\"")));
        Assert.Contains("needle setting '1/2'", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"seeds\": [1, 2]", "\"seeds\": null")));
        Assert.Contains("bad.json", e.Message);
        Assert.Contains("seeds", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"name\": \"recall\"", "\"name\": \"data\"")));
        Assert.Contains("'data' is the folder of the plan's datasets", e.Message);
        e = Assert.Throws<ArgumentException>(() => Write("bad.json", Plan.Replace("\"seeds\": [1, 2],", "\"seeds\": [1, 2], \"data\": { \"d\": { \"inputs\": [\"nowhere.jsonl\"] } },")));
        Assert.Contains("data 'd': input", e.Message);
        Assert.Contains("nowhere.jsonl: no such file or directory", e.Message);
    }

    [Fact]
    public void PathsAreResolvedAtAnyDepthAndCosmeticOptionsKeepTheUnitsIdentity()
    {
        var plan = Write("plans/p.json", Plan.Replace("\"lm\": { \"max_documents\": 4 },",
            "\"lm\": { \"max_documents\": 4 }, \"quant\": { \"text\": { \"inputs\": [\"$data\", \"held-out.txt\"] }, \"needle\": { \"haystack\": [\"../hay.txt\"] } },"));
        var quant = Assert.IsType<DiffTransformer.Evaluation.QuantEvalOptions>(plan.Units()[0].Evals("/the/data").Single(e => e.Suite.Name == "quant").Options);
        Assert.Equal(["/the/data", tmp["plans/held-out.txt"]], quant.Text.Inputs);
        Assert.Equal([tmp["hay.txt"]], quant.Needle.Haystack);
        var lm = Assert.IsType<DiffTransformer.Evaluation.LmEvalOptions>(plan.Units()[0].Evals("/the/data").Single(e => e.Suite.Name == "lm").Options);
        Assert.Equal(["/the/data"], lm.Inputs);                              // the default: the pair's own held-out split

        var cosmetic = Write("plans/c.json", Plan.Replace("\"checkpoint_interval\": 3", "\"checkpoint_interval\": 4, \"kernel\": \"fused\""));
        Assert.Equal(plan.Units()[0].TrainHash, cosmetic.Units()[0].TrainHash);
        var other = Write("plans/o.json", Plan.Replace("\"warmup_steps\": 2", "\"warmup_steps\": 3"));
        Assert.NotEqual(plan.Units()[0].TrainHash, other.Units()[0].TrainHash);
        Assert.NotEqual(plan.Units()[0].TrainHash, plan.Units()[1].TrainHash);   // seeds
    }

    [Fact]
    public void TheReportAggregatesCraftedRecordsAndComparesEachArchitectureAtItsBest()
    {
        // no training: records crafted for a plan of two sizes in one group, and two learning rates in one tuning set
        var plan = Write("plan.json", """
            {
              "name": "crafted", "seeds": [1, 2],
              "experiments": [
                { "name": "small", "group": "g", "tuning": "t", "model": { "num_layers": 1 }, "train": { "learning_rate": 0.003 }, "evals": { "lm": {} } },
                { "name": "small-lr", "tuning": "t", "model": { "num_layers": 1 }, "train": { "learning_rate": 0.001 } },
                { "name": "large", "group": "g", "model": { "num_layers": 4 } }
              ]
            }
            """);
        // val losses (DIFF, Transformer) per experiment and seed; parameters per experiment
        var losses = new Dictionary<string, (double, double)[]>
        {
            ["small"] = [(2.0, 2.2), (2.2, 2.4)], ["small-lr"] = [(2.3, 2.0), (2.3, 2.2)], ["large"] = [(1.5, 1.8), (1.7, 1.8)],
        };
        var parameters = new Dictionary<string, long> { ["small"] = 1_000_000, ["small-lr"] = 1_000_000, ["large"] = 4_000_000 };
        StudyRecord Record(StudyUnit u)
        {
            var (d, t) = losses[u.Experiment.Name][(int)u.Seed - 1];
            StudyRunFigures Run(Architecture a, double loss) => new(a, parameters[u.Experiment.Name], 10, 100, loss, new Dictionary<string, double>(), 1, 1);
            var evals = u.Experiment.Evals.ContainsKey("lm")
                ? new List<StudyEvalFigures>
                {
                    new("lm", u.EvalHash("lm"), [new Dictionary<string, double> { ["loss"] = d + 0.5 }, new Dictionary<string, double> { ["loss"] = t + 0.5 }], 1),
                }
                : [];
            if (u.Seed == 2 && evals.Count > 0) evals[0] = evals[0] with { Hash = "stale" };     // of other options: left out
            return new StudyRecord { Experiment = u.Experiment.Name, Seed = u.Seed, TrainHash = u.TrainHash, Runs = [Run(Architecture.Diff, d), Run(Architecture.Transformer, t)], Evals = evals };
        }
        var report = StudyReport.Build(plan, plan.Units(), Record);
        log.WriteLine(report.Markdown);
        Assert.Equal(5, report.Done);                                         // small/seed-2's lm is stale
        Assert.Contains("| train: final validation loss | 2.1000 ± 0.1414 | 2.3000 ± 0.1414 | -0.2000 | 2.0000, 2.2000 | 2.2000, 2.4000 |", report.Markdown);
        Assert.Contains("| lm: loss | 2.5000 | 2.7000 | -0.2000 | 2.5000, – | 2.7000, – |", report.Markdown);
        // each at its best: DIFF with lr 3e-3 (2.1), the Transformer with 1e-3 (2.1)
        Assert.Contains("DIFF at its best (small): 2.1000 ± 0.1414; the Transformer at its best (small-lr): 2.1000 ± 0.1414; DIFF − Transformer 0.", report.Markdown);
        // the size group: the Transformer's curve (1M, 2.3) → (4M, 1.8); DIFF's small loss 2.1 is 0.4 of the way: 4^0.4 = 1.74× its parameters
        Assert.Contains("| small | 1,000,000 | 1,000,000 | 2.1000 ± 0.1414 | 2.3000 ± 0.1414 | 1.74 |", report.Markdown);
        Assert.Contains("| large | 4,000,000 | 4,000,000 | 1.6000 ± 0.1414 | 1.8000 ± 0 | outside the measured range |", report.Markdown);
    }

    [Fact]
    public void TheParametersAtALossAreInterpolatedInLogParameters()
    {
        (double, double)[] curve = [(1e6, 2.0), (4e6, 1.6), (16e6, 1.4)];
        Assert.Equal(2e6, StudyReport.ParametersAt(curve, 1.8)!.Value, 6);    // halfway in log between 1M and 4M
        Assert.Equal(8e6, StudyReport.ParametersAt(curve, 1.5)!.Value, 6);
        Assert.Equal(1e6, StudyReport.ParametersAt(curve, 2.0)!.Value, 6);
        Assert.Null(StudyReport.ParametersAt(curve, 1.3));                   // below the largest model's loss: outside the range
        Assert.Null(StudyReport.ParametersAt(curve, 2.1));
    }

    [Fact]
    public void TheSummaryIsTheMeanAndTheSampleStandardDeviationOfTheSeedsPresent()
    {
        var s = StudyReport.Summary.Of([1.0, null, 2.0, 3.0, double.NaN]);
        Assert.Equal(3, s.N);
        Assert.Equal(2.0, s.Mean, 12);
        Assert.Equal(1.0, s.Std, 12);
        Assert.True(double.IsNaN(StudyReport.Summary.Of([4.0]).Std));
        Assert.Equal("–", StudyReport.Summary.Of([null]).ToString());
    }
}
