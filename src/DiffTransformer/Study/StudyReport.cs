using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.Evaluation;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Study;

/// <summary>
/// The study's report over the units done: per experiment every figure of the training and of each suite for DIFF and
/// the Transformer — mean and sample standard deviation over the seeds, the difference of the means and every seed's
/// value — and per group of sizes the loss against the parameters (with how many parameters DIFF needs to reach the
/// Transformer's loss, where the measured range allows it). Built from the unit records only, so it is the same
/// however the study was interrupted and resumed; no timing enters its tables.
/// </summary>
public sealed class StudyReport
{
    public const string MarkdownFile = "report.md";
    public const string JsonFile = "study.json";

    private StudyReport(string markdown, JsonObject json, IReadOnlyList<(string File, Action<string> Write)> plots, int done)
    {
        Markdown = markdown;
        Json = json;
        Plots = plots;
        Done = done;
    }

    public string Markdown { get; }
    public JsonObject Json { get; }
    public IReadOnlyList<(string File, Action<string> Write)> Plots { get; }

    /// <summary>Units whose training and every suite are in the results.</summary>
    public int Done { get; }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One figure of an experiment over its seeds, per architecture (NaN-free values only; seeds that lack it are left out).</summary>
    public sealed record Figure(string Name, IReadOnlyList<long> Seeds, IReadOnlyList<double?> Diff, IReadOnlyList<double?> Transformer)
    {
        public Summary DiffSummary => Summary.Of(Diff);
        public Summary TransformerSummary => Summary.Of(Transformer);
    }

    /// <summary>Mean and sample standard deviation (n − 1; NaN for one value) of the values present.</summary>
    public sealed record Summary(int N, double Mean, double Std)
    {
        public static Summary Of(IReadOnlyList<double?> values)
        {
            var v = values.Where(x => x is double d && !double.IsNaN(d)).Select(x => x!.Value).ToList();
            if (v.Count == 0) return new Summary(0, double.NaN, double.NaN);
            double mean = v.Average();
            double std = v.Count < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
            return new Summary(v.Count, mean, std);
        }

        public override string ToString() => N == 0 ? "–" : N == 1 ? F(Mean) : $"{F(Mean)} ± {F(Std)}";
    }

    public static StudyReport Build(StudyPlan plan, IReadOnlyList<StudyUnit> units, Func<StudyUnit, StudyRecord?> read)
    {
        var records = units.Select(u => (Unit: u, Record: read(u) is { } r && r.TrainHash == u.TrainHash ? r : null)).ToList();
        int done = records.Count(x => x.Record is { } r && x.Unit.Experiment.Evals.Keys.All(s => r.Evals.Any(e => e.Suite == s && x.Unit.Current(e))));
        var md = new StringBuilder();
        md.AppendLine($"# Study `{plan.Name}`").AppendLine();
        if (plan.Description.Length > 0) md.AppendLine(plan.Description).AppendLine();
        md.AppendLine($"Plan `{Path.GetFileName(plan.File)}`; {done} of {units.Count} units (experiment × seed, each DIFF and the parameter-matched Transformer) done. " +
                      "Each figure: mean ± sample standard deviation over the seeds done, the difference of the means (DIFF − Transformer) " +
                      "and every seed's value (docs/STUDY.md; the suites' figures are defined in docs/EVALUATION.md).").AppendLine();
        var json = new JsonObject { ["plan"] = plan.Name, ["units"] = units.Count, ["done"] = done };
        var experiments = new JsonArray();
        var sizes = new Dictionary<string, List<(StudyExperiment E, long PDiff, long PTrans, Summary Diff, Summary Trans)>>();
        var tunings = new SortedDictionary<string, List<(StudyExperiment E, double Lr, Summary Diff, Summary Trans)>>(StringComparer.Ordinal);
        foreach (var e in plan.Experiments)
        {
            var mine = records.Where(x => x.Unit.Experiment.Name == e.Name).ToList();
            // a suite's figures count only under the plan's declaration of it (not those of options since changed)
            var have = mine.Where(x => x.Record is not null)
                .Select(x => (x.Unit.Seed, Record: x.Record! with { Evals = x.Record!.Evals.Where(x.Unit.Current).ToList() })).ToList();
            md.AppendLine($"## {e.Name}").AppendLine();
            if (e.Claims.Count > 0) md.AppendLine($"Claims: {string.Join("; ", e.Claims)}.").AppendLine();
            md.AppendLine(Describe(e, mine[0].Unit, have.Count > 0 ? have[0].Record : null, mine.Count, have.Count)).AppendLine();
            var figures = Figures(e, have);
            if (figures.Count > 0)
            {
                md.AppendLine("| figure | DIFF | Transformer | DIFF − Transformer | DIFF per seed | Transformer per seed |");
                md.AppendLine("|---|---:|---:|---:|---|---|");
                foreach (var f in figures)
                {
                    var d = f.DiffSummary;
                    var t = f.TransformerSummary;
                    string delta = d.N > 0 && t.N > 0 ? F(d.Mean - t.Mean, signed: true) : "–";
                    md.AppendLine($"| {f.Name} | {d} | {t} | {delta} | {PerSeed(f.Seeds, f.Diff)} | {PerSeed(f.Seeds, f.Transformer)} |");
                }
                md.AppendLine();
            }
            experiments.Add(new JsonObject
            {
                ["name"] = e.Name, ["group"] = e.Group, ["claims"] = new JsonArray(e.Claims.Select(c => (JsonNode)c).ToArray()),
                ["seeds_done"] = new JsonArray(have.Select(h => (JsonNode)h.Seed).ToArray()),
                ["figures"] = JsonSerializer.SerializeToNode(figures.Select(f => new
                {
                    f.Name, f.Seeds, f.Diff, f.Transformer, Diff_mean = f.DiffSummary.Mean, Diff_std = f.DiffSummary.Std,
                    Transformer_mean = f.TransformerSummary.Mean, Transformer_std = f.TransformerSummary.Std,
                }).ToList(), EvalReport.JsonOptions),
            });
            if (e.Tuning is { } tuning && have.Count > 0 && figures.FirstOrDefault(f => f.Name == ValLoss) is { } tv)
                (tunings.TryGetValue(tuning, out var alternatives) ? alternatives : tunings[tuning] = [])
                    .Add((e, mine[0].Unit.Train("data").LearningRate, tv.DiffSummary, tv.TransformerSummary));
            if (e.Group is { } g && have.Count > 0)
            {
                var val = figures.FirstOrDefault(f => f.Name == ValLoss);
                if (val is not null)
                    (sizes.TryGetValue(g, out var list) ? list : sizes[g] = []).Add((e, have[0].Record.Runs[0].Parameters, have[0].Record.Runs[1].Parameters, val.DiffSummary, val.TransformerSummary));
            }
        }
        json["experiments"] = experiments;
        var tuned = new JsonArray();
        foreach (var set in tunings.Where(kv => kv.Value.Count >= 2))
        {
            md.AppendLine($"## Each architecture at its best: {set.Key}").AppendLine();
            md.AppendLine("The final validation loss (mean over the seeds done) of every alternative of the setting, and each architecture at its own best " +
                          "(the paper tunes nothing per architecture; this asks whether the comparison depends on that).").AppendLine();
            md.AppendLine("| experiment | learning rate | DIFF | Transformer |");
            md.AppendLine("|---|---:|---:|---:|");
            foreach (var (e, lr, d, t) in set.Value) md.AppendLine($"| {e.Name} | {lr.ToString("G3", Inv)} | {d} | {t} |");
            var bestD = set.Value.Where(x => x.Diff.N > 0).MinBy(x => x.Diff.Mean);
            var bestT = set.Value.Where(x => x.Trans.N > 0).MinBy(x => x.Trans.Mean);
            md.AppendLine();
            if (bestD.E is not null && bestT.E is not null)
            {
                md.AppendLine($"DIFF at its best ({bestD.E.Name}): {bestD.Diff}; the Transformer at its best ({bestT.E.Name}): {bestT.Trans}; " +
                              $"DIFF − Transformer {F(bestD.Diff.Mean - bestT.Trans.Mean, signed: true)}.").AppendLine();
                tuned.Add(new JsonObject
                {
                    ["tuning"] = set.Key, ["diff_best"] = bestD.E.Name, ["diff_loss"] = bestD.Diff.Mean,
                    ["transformer_best"] = bestT.E.Name, ["transformer_loss"] = bestT.Trans.Mean,
                });
            }
        }
        json["tuning"] = tuned;
        var plots = new List<(string, Action<string>)>();
        foreach (var (group, points) in sizes.Where(kv => kv.Value.Count >= 2))
        {
            var sorted = points.OrderBy(p => p.PTrans).ToList();
            md.AppendLine($"## Loss against size: {group}").AppendLine();
            md.AppendLine("Final validation loss (mean over the seeds) of each size; the last column: the Transformer's parameters at DIFF's loss, " +
                          "interpolated linearly in log(parameters) between the measured sizes, as a multiple of DIFF's own (above 1: DIFF reaches " +
                          "that loss with fewer parameters; the paper: DIFF matches the Transformer with ~62% of the parameters).").AppendLine();
            md.AppendLine("| experiment | DIFF parameters | Transformer parameters | DIFF loss | Transformer loss | Transformer parameters at DIFF's loss ÷ DIFF's |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var p in sorted)
            {
                double? at = ParametersAt(sorted.Select(s => ((double)s.PTrans, s.Trans.Mean)).ToList(), p.Diff.Mean);
                md.AppendLine(string.Create(Inv, $"| {p.E.Name} | {p.PDiff:N0} | {p.PTrans:N0} | {p.Diff} | {p.Trans} | {(at is double a ? (a / p.PDiff).ToString("F2", Inv) : "outside the measured range")} |"));
            }
            md.AppendLine();
            string file = $"loss-vs-parameters-{group}.png";
            md.AppendLine($"![loss against parameters]({file})").AppendLine();
            plots.Add((file, path => SizePlot(path, group, sorted)));
        }
        return new StudyReport(md.ToString(), json, plots, done);
    }

    /// <summary>Writes report.md, study.json and the plots into <paramref name="dir"/>.</summary>
    public void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, MarkdownFile), Markdown);
        AtomicFile.WriteAllText(Path.Combine(dir, JsonFile), Json.ToJsonString(EvalReport.JsonOptions) + "\n");
        foreach (var (file, write) in Plots) write(Path.Combine(dir, file));
    }

    private const string ValLoss = "train: final validation loss";

    private static List<Figure> Figures(StudyExperiment e, List<(long Seed, StudyRecord Record)> have)
    {
        var seeds = have.Select(h => h.Seed).ToList();
        var figures = new List<Figure>();
        void Add(string name, Func<StudyRecord, int, double?> value) =>
            figures.Add(new Figure(name, seeds, have.Select(h => value(h.Record, 0)).ToList(), have.Select(h => value(h.Record, 1)).ToList()));
        if (have.Count == 0) return figures;
        Add(ValLoss, (r, a) => r.Runs[a].ValLoss);
        foreach (var key in have.SelectMany(h => h.Record.Runs.SelectMany(r => r.Task.Keys)).Distinct().Order(StringComparer.Ordinal))
            Add($"train: {key}", (r, a) => r.Runs[a].Task.TryGetValue(key, out double v) ? v : null);
        foreach (var suite in e.Evals.Keys)
            foreach (var key in have.SelectMany(h => h.Record.Evals.Where(x => x.Suite == suite).SelectMany(x => x.Models.SelectMany(m => m.Keys))).Distinct().Order(StringComparer.Ordinal))
                Add($"{suite}: {key}", (r, a) => r.Evals.FirstOrDefault(x => x.Suite == suite) is { } ev && ev.Models.Count > a && ev.Models[a].TryGetValue(key, out double v) ? v : null);
        return figures;
    }

    private static string Describe(StudyExperiment e, StudyUnit unit, StudyRecord? record, int seeds, int done)
    {
        var train = unit.Train("data");
        string model = e.Model is { Count: > 0 } m ? $"`{e.Preset}` with {string.Join(", ", m.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString()}"))}" : $"`{e.Preset}`";
        string parameters = record is null ? "" : string.Create(Inv, $" ({record.Runs[0].Parameters:N0} and {record.Runs[1].Parameters:N0} parameters)");
        string data = e.Data is { } d ? $"the plan's dataset `{d}`" : $"the built-in {train.Task.ToString().ToLowerInvariant()} task";
        long tokens = train.Steps * train.EffectiveTokensPerStep;
        return string.Create(Inv, $"Model {model}{parameters}; {data}; {train.Steps:N0} steps × {train.EffectiveTokensPerStep:N0} tokens = {tokens:N0} tokens, ") +
               string.Create(Inv, $"context {train.SeqLen}, peak lr {train.LearningRate.ToString("G3", Inv)}; {done} of {seeds} seeds done.");
    }

    /// <summary>
    /// The parameter count at which the curve <paramref name="points"/> (parameters, loss; ascending parameters) reaches
    /// <paramref name="loss"/>, linearly in log(parameters) between neighbouring points; null outside the range.
    /// </summary>
    public static double? ParametersAt(IReadOnlyList<(double Parameters, double Loss)> points, double loss)
    {
        for (int i = 0; i + 1 < points.Count; i++)
        {
            var (p0, l0) = points[i];
            var (p1, l1) = points[i + 1];
            if (double.IsNaN(l0) || double.IsNaN(l1) || l0 == l1) continue;
            double t = (loss - l0) / (l1 - l0);
            if (t is >= 0 and <= 1) return Math.Exp(Math.Log(p0) + t * (Math.Log(p1) - Math.Log(p0)));
        }
        return null;
    }

    private static void SizePlot(string path, string group, List<(StudyExperiment E, long PDiff, long PTrans, Summary Diff, Summary Trans)> points)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var (label, i, xs, ys, sd) in new[]
                 {
                     ("DIFF", 0, points.Select(p => Math.Log10(p.PDiff)).ToArray(), points.Select(p => p.Diff.Mean).ToArray(), points.Select(p => p.Diff.Std).ToArray()),
                     ("Transformer", 1, points.Select(p => Math.Log10(p.PTrans)).ToArray(), points.Select(p => p.Trans.Mean).ToArray(), points.Select(p => p.Trans.Std).ToArray()),
                 })
        {
            var line = plt.Add.Scatter(xs, ys);
            line.Color = palette.GetColor(i);
            line.LegendText = label;
            var bars = plt.Add.ErrorBar(xs, ys, sd.Select(s => double.IsNaN(s) ? 0 : s).ToArray());
            bars.Color = palette.GetColor(i);
        }
        plt.XLabel("log10(parameters)");
        plt.YLabel("final validation loss (nats/token)");
        plt.Title($"{group}: loss against parameters (mean ± sd over seeds)");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 800, 560);
    }

    private static string PerSeed(IReadOnlyList<long> seeds, IReadOnlyList<double?> values) =>
        string.Join(", ", seeds.Select((s, i) => values[i] is double v ? F(v) : "–"));

    private static string F(double v, bool signed = false)
    {
        if (double.IsNaN(v)) return "n/a";
        double a = Math.Abs(v);
        string s = a == 0 ? "0" : a >= 100 ? v.ToString("F1", Inv) : a >= 0.01 ? v.ToString("F4", Inv) : v.ToString("G3", Inv);
        return signed && v > 0 ? "+" + s : s;
    }
}
