using System.Globalization;
using System.Text;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tasks;

namespace DiffTransformer.Training;

/// <summary>
/// The paper's first experiment at our scale: a DIFF Transformer and the parameter-matched Transformer trained on
/// the same data, in the same order, from the same seed, for the same number of steps and tokens. Each sub-run is a
/// normal run directory (out/diff, out/transformer), so an interrupted comparison resumes where it stopped and a
/// completed sub-run is not trained again.
/// </summary>
public static class Comparison
{
    /// <summary>What <c>compare</c> trains unless told: DIFF (V1) and the baseline.</summary>
    public static IReadOnlyList<Architecture> DefaultArchitectures { get; } = [Architecture.Diff, Architecture.Transformer];

    /// <summary>
    /// Trains (or resumes, or reuses) both sub-runs and writes the table and plot. The comparison directory is locked for
    /// the whole comparison (two comparisons into one directory would generate its data and decide about its sub-runs at
    /// once), and before the built-in task's data is generated the sub-runs that would be resumed or reused are checked
    /// against the options given: a re-run without the original --task, or with another --seq-len, is refused before it
    /// could regenerate data/ under them; and while a sub-run has a checkpoint, data/ is never generated anew.
    /// </summary>
    public static ComparisonResult Run(TrainOptions options, bool force, Action<string> log,
        Func<Architecture, IProgress<TrainProgress>?>? progressFor = null, CancellationToken cancel = default,
        IReadOnlyList<Architecture>? architectures = null)
    {
        var archs = architectures ?? DefaultArchitectures;
        if (archs.Count < 2 || archs.Distinct().Count() != archs.Count)
            throw new ArgumentException($"a comparison takes two or more different architectures, got {string.Join(", ", archs.Select(ArchitectureNames.Name))}");
        options = options.Validate();
        string root = Path.GetFullPath(options.Out);
        options = options with { Haystack = options.Haystack.Select(Path.GetFullPath).ToList(), Examples = options.Examples.Select(Path.GetFullPath).ToList() };
        using var rootLock = RunLock.Acquire(root);
        try
        {
            return RunLocked(options, root, force, log, progressFor, cancel, archs);
        }
        catch
        {
            rootLock.ReleaseUnused();                                             // a refused comparison leaves no trace
            throw;
        }
    }

    private static ComparisonResult RunLocked(TrainOptions options, string root, bool force, Action<string> log,
        Func<Architecture, IProgress<TrainProgress>?>? progressFor, CancellationToken cancel, IReadOnlyList<Architecture> archs)
    {
        var subRuns = archs.ToDictionary(a => a, a => new RunDirectory(Path.Combine(root, ArchName(a))));
        if (force) StartOver(subRuns.Values);
        else
        {
            foreach (var run in subRuns.Values) CheckContinues(run, options, Path.Combine(root, "data"));
        }
        bool continuing = subRuns.Values.Any(r => r.Checkpoints().Count > 0);
        string data = Path.GetFullPath(options.Data ?? BuiltinTask.EnsureDataset(Path.Combine(root, "data"), log, options.Task, options.Haystack,
                                                                                 options.HaystackField, options.SeqLen, mayGenerate: !continuing,
                                                                                 options.Examples, options.Icl));
        DatasetMeta meta;
        using (var dataset = TokenDataset.Open(data)) meta = dataset.Meta;
        options = options.ResolveWindows(data);
        var results = new Dictionary<Architecture, TrainResult>();
        foreach (var arch in archs)
        {
            var sub = options with { Model = options.Model with { Arch = arch }, Out = subRuns[arch].Root, Data = data };
            var run = subRuns[arch];
            string label = Label(arch);
            var done = Trainer.LoadSummary(run.Root);
            if (done is not null && done.Outcome == TrainOutcome.Completed && done.Step == sub.Steps && SameRun(run, sub.ResolveVocabulary(meta)))
            {
                log($"{label}: already trained ({run.Root}), reusing its results");
                results[arch] = done;
                continue;
            }
            bool resume = run.Checkpoints().Count > 0;
            log(resume ? $"{label}: resuming {run.Root}" : $"{label}: training into {run.Root}");
            var trainer = new Trainer(sub, m => log($"[{ArchName(arch)}] {m}"), progressFor?.Invoke(arch)) { Resume = resume, Force = !resume };
            var r = trainer.Run(cancel);
            results[arch] = r;
            if (r.Outcome == TrainOutcome.Interrupted)
                throw new OperationCanceledException($"comparison interrupted during the {label} run at step {r.Step}; run the same command again to resume");
        }
        string plot = Path.Combine(root, "loss.png");
        LossPlot.Write(plot, $"{string.Join(" vs ", archs.Select(ArchitectureNames.Label))}: {Path.GetFileName(root)}",
            archs.Select(a => new LossPlot.Series(ArchitectureNames.Label(a), MetricsLog.Read(subRuns[a].Metrics))).ToList());
        var runs = archs.Select(a => results[a]).ToList();
        string table = Table(runs, options);
        AtomicFile.WriteAllText(Path.Combine(root, "comparison.md"), table);
        return new ComparisonResult(runs, table, plot);
    }

    /// <summary>
    /// --force: deletes the sub-runs, each under its lock, taken for all of them before either is touched: a sub-run a
    /// trainer is still writing is refused (the lock names it) and neither is deleted. The lock files stay, as after any run.
    /// </summary>
    private static void StartOver(IEnumerable<RunDirectory> runs)
    {
        var locks = new List<RunLock>();
        try
        {
            foreach (var run in runs.Where(r => r.HasRun)) locks.Add(RunLock.Acquire(run.Root));
            foreach (var held in locks) held.DeleteRun();
        }
        finally
        {
            foreach (var held in locks) held.Dispose();
        }
    }

    /// <summary>
    /// Refuses, before any data is generated, a sub-run that would be resumed or reused (it has a checkpoint) but cannot
    /// continue with <paramref name="options"/>: the options resume compares, but the model (resolved against the data,
    /// which comes later; the trainer checks it) and, on the built-in task, data the sub-run was not trained on.
    /// </summary>
    private static void CheckContinues(RunDirectory run, TrainOptions options, string builtinData)
    {
        if (run.Checkpoints().Count == 0 || !File.Exists(run.OptionsFile)) return;       // started over anyway
        var saved = Trainer.LoadRunOptions(run.Root);
        // the model is resolved against the data later; windows not given are the run's own, as on any resume
        var given = options with { Model = saved.Model, VocabFromData = saved.VocabFromData, Windows = options.Windows ?? saved.Windows };
        var diffs = Trainer.ResumeDifferences(saved, given).ToList();
        if (options.Data is null && saved.Data is { } was && Path.GetFullPath(was) != builtinData)
            diffs.Add($"data: the built-in task's (saved: {was}; give it with --data)");
        if (diffs.Count > 0)
            throw new ArgumentException($"the comparison continues the run saved in {run.OptionsFile}, but these options differ: {string.Join("; ", diffs)}; " +
                                        "run the command it was started with, or start over with --force");
    }

    public static string ArchName(Architecture a) => ArchitectureNames.Name(a);

    private static string Label(Architecture a) => a == Architecture.Transformer ? "Transformer" : ArchitectureNames.Label(a) + " Transformer";

    /// <summary>
    /// Whether a completed sub-run can stand for the wanted one (its vocabulary resolved against the data): the options
    /// resume accepts (a changed evaluation or checkpoint cadence or kernel does not change what was trained) and the
    /// same dataset.
    /// </summary>
    private static bool SameRun(RunDirectory run, TrainOptions wanted)
    {
        var saved = Trainer.LoadRunOptions(run.Root);
        static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);   // older run.json files hold relative paths
        return Full(saved.Data) == Full(wanted.Data) && Trainer.ResumeDifferences(saved, wanted).Count == 0;
    }

    /// <summary>A markdown table of the runs, one column each.</summary>
    public static string Table(IReadOnlyList<TrainResult> runs, TrainOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        string F(double? v, string fmt = "F4") => v is double x && !double.IsNaN(x) ? x.ToString(fmt, inv) : "–";
        string Row(string name, Func<TrainResult, string> cell) => $"| {name} | {string.Join(" | ", runs.Select(cell))} |";
        string Heads(TrainResult r) => r.Model.Arch switch
        {
            Architecture.Diff => $"{r.Model.NumHeads} × 2·{r.Model.HeadDim}",
            Architecture.Diff2 => $"{2 * r.Model.NumHeads} × {r.Model.HeadDim} in {r.Model.NumHeads} pairs",
            _ => $"{2 * r.Model.NumHeads} × {r.Model.HeadDim}",
        };
        var sb = new StringBuilder();
        sb.AppendLine($"| | {string.Join(" | ", runs.Select(r => Label(r.Model.Arch)))} |");
        sb.AppendLine("|---|" + string.Concat(runs.Select(_ => "---|")));
        sb.AppendLine(Row("parameters", r => r.Parameters.ToString("N0", inv)));
        sb.AppendLine(Row("heads × width", Heads));
        sb.AppendLine(Row("steps × tokens/step", r => $"{r.Step} × {options.EffectiveTokensPerStep.ToString("N0", inv)}"));
        sb.AppendLine(Row("final train loss (last 10% of steps)", r => F(r.FinalTrainLoss)));
        sb.AppendLine(Row("final validation loss", r => F(r.FinalValLoss)));
        foreach (var key in runs.SelectMany(r => r.Task.Keys).Distinct())
            sb.AppendLine(Row(key, r => F(r.Task.GetValueOrDefault(key, double.NaN), "F3")));
        sb.AppendLine(Row("training tokens/s", r => r.TokensPerSecond.ToString("N0", inv)));
        sb.AppendLine(Row("wall time", r => $"{r.Elapsed.TotalMinutes.ToString("F1", inv)} min"));
        return sb.ToString();
    }
}
