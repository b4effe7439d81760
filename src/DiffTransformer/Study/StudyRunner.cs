using System.Diagnostics;
using System.Globalization;
using DiffTransformer.Data;
using DiffTransformer.Evaluation;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tasks;
using DiffTransformer.Training;

namespace DiffTransformer.Study;

/// <summary>
/// Runs a <see cref="StudyPlan"/> unit by unit (experiment by experiment, seed by seed): the comparison of the unit's
/// pair (a normal <see cref="Comparison"/>, so an interrupted training resumes from its checkpoint), then each suite;
/// after the pair and after each suite the unit's record is written, so a study stopped anywhere continues from
/// there, and a unit found done in the results is not touched. Then the report over every unit done.
/// </summary>
public static class StudyRunner
{
    /// <summary>The file beside a study-owned directory naming the declaration it was made from.</summary>
    private const string StampFile = "study-stamp.txt";

    public static StudyReport Run(StudyPlan plan, StudyOptions options, Action<string> log,
        Func<StudyUnit, Architecture, IProgress<TrainProgress>?>? progressFor = null, IProgress<string>? evalProgress = null,
        CancellationToken cancel = default)
    {
        var units = plan.Units();
        var selected = Select(plan, units, options.Only);
        int n = 0;
        foreach (var unit in selected)
        {
            cancel.ThrowIfCancellationRequested();
            log($"unit {++n}/{selected.Count}: {unit.Id}");
            RunUnit(unit, options, log, progressFor, evalProgress, cancel);
        }
        var report = StudyReport.Build(plan, units, u => StudyRecord.Read(Path.Combine(options.ResultsDir, u.Id)));
        report.Write(options.ResultsDir);
        log($"report: {Path.Combine(options.ResultsDir, StudyReport.MarkdownFile)} ({report.Done} of {units.Count} units done)");
        return report;
    }

    /// <summary>The report over the units done so far, written into the results, without running anything.</summary>
    public static StudyReport Report(StudyPlan plan, StudyOptions options)
    {
        var report = StudyReport.Build(plan, plan.Units(), u => StudyRecord.Read(Path.Combine(options.ResultsDir, u.Id)));
        report.Write(options.ResultsDir);
        return report;
    }

    private static List<StudyUnit> Select(StudyPlan plan, IReadOnlyList<StudyUnit> units, IReadOnlyList<string>? only)
    {
        if (only is null || only.Count == 0) return units.ToList();
        foreach (var name in only)
            if (plan.Experiments.All(e => e.Name != name))
                throw new ArgumentException($"--only {name}: the plan {plan.File} has no such experiment ({string.Join(", ", plan.Experiments.Select(e => e.Name))})");
        return units.Where(u => only.Contains(u.Experiment.Name)).ToList();
    }

    private static void RunUnit(StudyUnit unit, StudyOptions options, Action<string> log,
        Func<StudyUnit, Architecture, IProgress<TrainProgress>?>? progressFor, IProgress<string>? evalProgress, CancellationToken cancel)
    {
        string results = Path.Combine(options.ResultsDir, unit.Id);
        string root = Path.Combine(options.Out, unit.Id);
        var record = StudyRecord.Read(results);
        if (record is not null && record.TrainHash != unit.TrainHash)
        {
            log($"{unit.Id}: the record in {results} is of another declaration of the experiment; running the unit again");
            record = null;
        }
        var pending = unit.Experiment.Evals.Keys.Where(s => record?.Evals.Any(e => e.Suite == s && unit.Current(e)) != true).ToList();
        if (record is not null && pending.Count == 0)
        {
            log($"{unit.Id}: done ({results}), reusing it");
            return;
        }
        string data = EnsureData(unit, options, log);
        // the final models of this declaration (the stamp), not whatever another declaration left in the folder
        bool trained = Stamped(root, unit.TrainHash) == true
                       && Directory.Exists(Path.Combine(root, "diff", "final")) && Directory.Exists(Path.Combine(root, "transformer", "final"));
        if (record is null || (pending.Count > 0 && !trained))
        {
            if (record is not null) log($"{unit.Id}: the trained models are gone from {root}; training them again (the same command, seed and thread count give the same weights)");
            var comparison = Train(unit, data, root, log, progressFor, cancel);
            var train = unit.Train(data);
            StudyRunFigures[] runs = [Figures(comparison.Diff, train), Figures(comparison.Transformer, train)];
            var kept = record?.Evals ?? [];
            if (record is not null && !runs.Select(r => r.ValLoss).SequenceEqual(record.Runs.Select(r => r.ValLoss)))
            {
                // not the same weights (another thread count or machine): the suites done on the old ones describe other models
                log($"{unit.Id}: the models trained again differ from the recorded ones (validation loss {F(runs[0].ValLoss)}/{F(runs[1].ValLoss)} " +
                    $"against {F(record.Runs[0].ValLoss)}/{F(record.Runs[1].ValLoss)}); running every suite again");
                kept = [];
                pending = unit.Experiment.Evals.Keys.ToList();
            }
            else if (record is not null) runs = [.. record.Runs];                 // the same figures; keep the recorded timings
            record = new StudyRecord
            {
                Experiment = unit.Experiment.Name, Seed = unit.Seed, TrainHash = unit.TrainHash,
                Runs = runs,
                Evals = kept,
            };
            Directory.CreateDirectory(results);
            AtomicFile.WriteAllText(Path.Combine(results, "comparison.md"), comparison.Table);
            record.Write(results);
        }
        if (pending.Count == 0) return;
        using var models = new ModelPair(EvalModel.LoadAll([Path.Combine(root, "diff"), Path.Combine(root, "transformer")], options.Kernel));
        var evals = unit.Evals(data).ToDictionary(e => e.Suite.Name);
        foreach (var name in pending)
        {
            cancel.ThrowIfCancellationRequested();
            var (suite, suiteOptions) = evals[name];
            log($"{unit.Id}: eval {name}");
            var clock = Stopwatch.StartNew();
            var output = suite.Run(models.Models, suiteOptions, evalProgress, cancel);
            double seconds = clock.Elapsed.TotalSeconds;
            var (json, md) = output.Write(Path.Combine(root, "eval"), options.CommandLine);
            Directory.CreateDirectory(results);
            File.Copy(json, Path.Combine(results, Path.GetFileName(json)), overwrite: true);
            File.Copy(md, Path.Combine(results, Path.GetFileName(md)), overwrite: true);
            var done = record.Evals.Where(e => e.Suite != name).Append(new StudyEvalFigures(name, unit.EvalHash(name), output.Headlines, seconds));
            var order = unit.Experiment.Evals.Keys.ToList();
            record = record with { Evals = done.Where(e => order.Contains(e.Suite)).OrderBy(e => order.IndexOf(e.Suite)).ToList() };
            record.Write(results);
        }
    }

    private static ComparisonResult Train(StudyUnit unit, string data, string root, Action<string> log,
        Func<StudyUnit, Architecture, IProgress<TrainProgress>?>? progressFor, CancellationToken cancel)
    {
        // a run directory made from another declaration of the experiment is started over, not refused: the plan owns it.
        // It is deleted before the new stamp is written, so a stop in between leaves no old run under the new stamp.
        if (Stamped(root, unit.TrainHash) == false)
        {
            log($"{unit.Id}: {root} holds runs of another declaration of the experiment; starting them over");
            Directory.Delete(root, recursive: true);
        }
        var options = unit.Train(data, root);
        Directory.CreateDirectory(root);
        AtomicFile.WriteAllText(Path.Combine(root, StampFile), unit.TrainHash + "\n");   // before training: an interrupted start resumes as this declaration's
        return Comparison.Run(options, force: false, m => log($"{unit.Id}: {m}"), arch => progressFor?.Invoke(unit, arch), cancel);
    }

    /// <summary>
    /// The unit's dataset: a plan dataset prepared once into out/data/&lt;name&gt; (prepared again when its declaration
    /// changed), or the built-in task generated into out/&lt;experiment&gt;/data and shared by the seeds.
    /// </summary>
    private static string EnsureData(StudyUnit unit, StudyOptions options, Action<string> log)
    {
        if (unit.Experiment.Data is { } name)
        {
            string dir = Path.GetFullPath(Path.Combine(options.Out, "data", name));
            string stamp = StudyUnit.Hash(unit.Plan.Data[name].ToJsonString());
            if (Stamped(dir, stamp) == true && File.Exists(Path.Combine(dir, DatasetMeta.FileName))) return dir;
            var prepare = unit.Plan.PrepareFor(name, dir) with { Force = true };
            log($"preparing the plan's dataset '{name}' into {dir}");
            var r = DatasetPreparer.Prepare(prepare);
            log($"'{name}': {r.Describe()}");
            AtomicFile.WriteAllText(Path.Combine(dir, StampFile), stamp + "\n");
            return dir;
        }
        var train = unit.Train("unused");
        string builtin = Path.GetFullPath(Path.Combine(options.Out, unit.Experiment.Name, "data"));
        return BuiltinTask.EnsureDataset(builtin, m => log($"{unit.Experiment.Name}: {m}"), train.Task, train.Haystack, train.HaystackField, train.SeqLen,
            mayGenerate: true, train.Examples, train.Icl);
    }

    /// <summary>Whether <paramref name="dir"/>'s stamp is <paramref name="hash"/>; null when it has none.</summary>
    private static bool? Stamped(string dir, string hash)
    {
        string path = Path.Combine(dir, StampFile);
        if (!File.Exists(path)) return Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() ? false : null;
        return File.ReadAllText(path).Trim() == hash;
    }

    private static string F(double? v) => v is double x ? x.ToString("R", CultureInfo.InvariantCulture) : "none";

    private static StudyRunFigures Figures(TrainResult r, TrainOptions options) =>
        new(r.Model.Arch, r.Parameters, r.Step, r.Step * options.EffectiveTokensPerStep, r.FinalValLoss, r.Task, r.TokensPerSecond, r.Elapsed.TotalMinutes);

    /// <summary>What is done and what remains, with an estimate of the time left from the units done.</summary>
    public static StudyStatus Status(StudyPlan plan, StudyOptions options)
    {
        var rows = new List<StudyUnitStatus>();
        var records = plan.Units().Select(u => (Unit: u, Record: StudyRecord.Read(Path.Combine(options.ResultsDir, u.Id)) is { } r && r.TrainHash == u.TrainHash ? r : null)).ToList();
        var done = records.Where(x => x.Record is not null).ToList();
        foreach (var (unit, record) in records)
        {
            var train = unit.Train("unused");
            long tokens = train.Steps * train.EffectiveTokensPerStep;
            int suites = unit.Experiment.Evals.Count;
            int evalsDone = record?.Evals.Count(unit.Current) ?? 0;
            long[] steps = record is not null ? [train.Steps, train.Steps]
                : new[] { "diff", "transformer" }.Select(a => StepsDone(Path.Combine(options.Out, unit.Id, a), unit.TrainHash, Path.Combine(options.Out, unit.Id))).ToArray();
            string state = record is null
                ? steps.All(s => s == 0) ? "not started" : string.Create(CultureInfo.InvariantCulture, $"training: DIFF {steps[0]:N0}/{train.Steps:N0}, Transformer {steps[1]:N0}/{train.Steps:N0} steps")
                : evalsDone == suites ? "done" : $"trained; {evalsDone} of {suites} suites";
            // the estimate: this experiment's measured speed if a unit of it is done, else every done unit's tokens·parameters per minute
            double? minutes = null;
            if (state != "done")
            {
                double? trainMinutes = 0;
                for (int a = 0; a < 2; a++)
                {
                    long left = (train.Steps - steps[a]) * train.EffectiveTokensPerStep;
                    if (left == 0) continue;
                    var same = done.Where(x => x.Unit.Experiment.Name == unit.Experiment.Name).Select(x => x.Record!.Runs[a]).ToList();
                    var any = done.Select(x => x.Record!.Runs[a]).Where(r => r.Minutes > 0).ToList();
                    if (same.Count > 0) trainMinutes += left / same.Average(r => r.Tokens / Math.Max(r.Minutes, 1e-9));
                    else if (any.Count > 0) trainMinutes += left * (double)ParameterLayout.CountEmbeddingOnce(unit.Model) / any.Average(r => r.Tokens * (double)r.Parameters / Math.Max(r.Minutes, 1e-9));
                    else trainMinutes = null;
                    if (trainMinutes is null) break;
                }
                var evalSame = done.Where(x => x.Unit.Experiment.Name == unit.Experiment.Name && x.Record!.Evals.Count > 0).ToList();
                double evalMinutes = evalSame.Count == 0 ? 0 : evalSame.Average(x => x.Record!.Evals.Sum(e => e.Seconds)) / 60 * (suites - evalsDone) / Math.Max(suites, 1);
                minutes = trainMinutes + evalMinutes;
            }
            rows.Add(new StudyUnitStatus(unit.Id, state, tokens, minutes));
        }
        return new StudyStatus(plan.File, rows);
    }

    private static long StepsDone(string run, string hash, string root)
    {
        if (Stamped(root, hash) == false) return 0;                      // another declaration's runs: started over
        var summary = Trainer.LoadSummary(run);
        if (summary is { Outcome: TrainOutcome.Completed }) return summary.Step;
        var last = new RunDirectory(run).Checkpoints().LastOrDefault();
        return last is null ? 0 : long.Parse(Path.GetFileName(last)["step_".Length..], CultureInfo.InvariantCulture);
    }

    private sealed class ModelPair(List<EvalModel> models) : IDisposable
    {
        public List<EvalModel> Models { get; } = models;

        public void Dispose()
        {
            foreach (var m in Models) m.Dispose();
        }
    }
}
