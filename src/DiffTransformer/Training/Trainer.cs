using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tasks;

namespace DiffTransformer.Training;

/// <summary>
/// Trains a <see cref="LanguageModel"/> on a prepared dataset: AdamW with decoupled weight decay on matrices,
/// warm-up then cosine/linear decay, gradient clipping, gradient accumulation to a token budget per step,
/// periodic validation, metrics as JSON lines, a loss plot, atomic checkpoints and exact resume.
/// Training rows are a pure function of (seed, row index), so a resumed run sees exactly the data it would have
/// seen, and the micro-batch size does not change what a step trains on.
/// </summary>
public sealed class Trainer
{
    private readonly Action<string> log;
    private readonly IProgress<TrainProgress>? progress;

    /// <summary>Continue the run in <see cref="TrainOptions.Out"/> from its latest checkpoint.</summary>
    public bool Resume { get; init; }

    /// <summary>Start over in a run directory that already holds a run (deleting it).</summary>
    public bool Force { get; init; }

    /// <summary>Task metrics at each evaluation (null: none, unless the built-in task supplies its own).</summary>
    public ITaskEvaluator? TaskEvaluator { get; init; }

    /// <summary>Test hook: replaces the loss value of a step (to simulate divergence).</summary>
    internal Func<long, double, double>? LossOverride { get; init; }

    public TrainOptions Options { get; }

    public Trainer(TrainOptions options, Action<string>? log = null, IProgress<TrainProgress>? progress = null)
    {
        Options = options.Validate();
        this.log = log ?? (_ => { });
        this.progress = progress;
    }

    /// <summary>Options that may change when a run is resumed; everything else must equal run.json.</summary>
    private static readonly string[] ResumeMutable = ["data", "out", "steps", "eval_interval", "eval_batches", "checkpoint_interval", "keep_checkpoints", "kernel"];

    /// <summary>Reads the options a run was started with (run.json in its directory).</summary>
    public static TrainOptions LoadRunOptions(string runDir)
    {
        var run = new RunDirectory(runDir);
        if (!File.Exists(run.OptionsFile)) throw new FileNotFoundException($"{runDir} holds no run to resume (no run.json)", run.OptionsFile);
        return TrainOptions.FromJson(File.ReadAllText(run.OptionsFile), run.OptionsFile);
    }

    /// <summary>The summary of a completed run (summary.json), or null when the run has not completed.</summary>
    public static TrainResult? LoadSummary(string runDir)
    {
        var run = new RunDirectory(runDir);
        return File.Exists(run.Summary) ? Json.Parse<TrainResult>(File.ReadAllText(run.Summary), run.Summary) : null;
    }

    /// <summary>Trains (or resumes) the run in <see cref="TrainOptions.Out"/> to <see cref="TrainOptions.Steps"/>, or until <paramref name="cancel"/>.</summary>
    public TrainResult Run(CancellationToken cancel = default)
    {
        using var runLock = RunLock.Acquire(new RunDirectory(Options.Out).Root);   // before anything in the run is read or changed
        RunPlan prepared;
        try
        {
            prepared = PrepareRun();
        }
        catch
        {
            runLock.ReleaseUnused();
            throw;
        }
        using var plan = prepared;
        ClaimRunDirectory(plan);
        using var session = new TrainingSession(plan, log, progress, LossOverride);
        return session.Run(cancel);
    }

    /// <summary>
    /// Decides between a new run, a resume and a refusal, opens the data and checks it against the options and the
    /// checkpoint. Changes nothing in the run directory (only a new run may generate the built-in task's dataset into its
    /// data/ folder, which every later run reuses; a resume refuses data/ that is not as the run left it), so a refused run
    /// leaves the previous one as it was.
    /// </summary>
    private RunPlan PrepareRun()
    {
        var run = new RunDirectory(Options.Out);
        // absolute paths in run.json, so a run resumes from any working directory
        var options = Options with
        {
            Out = run.Root, Data = Options.Data is null ? null : Path.GetFullPath(Options.Data), Haystack = Options.Haystack.Select(Path.GetFullPath).ToList(),
            Examples = Options.Examples.Select(Path.GetFullPath).ToList(),
        };
        TrainOptions? saved = null;
        TrainerState? resumeFrom = null;
        string? resumeDir = null;
        var damaged = new HashSet<string>(StringComparer.Ordinal);
        if (Resume)
        {
            saved = LoadRunOptions(run.Root);
            resumeDir = Checkpoint.NewestIntact(run, m => log("warning: " + m), out string none, damaged) ?? throw new InvalidDataException(none);
            resumeFrom = Checkpoint.LoadState(resumeDir);
            if (options.Windows is null) options = options with { Windows = saved.Windows };   // the run's own unless told
            // everything but the model (resolved against the data below) before the data: a resume with another task must
            // not regenerate the run's data/ folder first
            CheckResumeCompatible(saved, options with { Model = saved.Model, VocabFromData = saved.VocabFromData }, run.OptionsFile);
        }
        else if (run.HasRun && !Force)
        {
            throw new IOException($"{run.Root} already holds a run; use --resume to continue it or --force to start over");
        }

        foreach (var w in options.Warnings()) log("warning: " + w);
        // a resume never generates the built-in task's data: it would replace the documents the run was trained on
        string dataDir = options.Data ?? BuiltinTask.EnsureDataset(run.Data, log, options.Task, options.Haystack, options.HaystackField, options.SeqLen,
                                                                   mayGenerate: !Resume, options.Examples, options.Icl);
        var dataset = TokenDataset.Open(dataDir);
        try
        {
            var meta = dataset.Meta;
            if (resumeFrom is not null && resumeFrom.Tokenizer != meta.Tokenizer)
                throw new InvalidDataException($"the checkpoint {resumeDir} was trained with tokenizer '{resumeFrom.Tokenizer}' but the dataset {dataDir} uses '{meta.Tokenizer}'");
            var resolved = options.ResolveVocabulary(meta).ResolveWindows(dataDir);
            if (resolved.Model.VocabSize != options.Model.VocabSize)
                log($"vocab_size set to {meta.VocabSize} from the dataset's tokenizer '{meta.Tokenizer}' (was {options.Model.VocabSize})");
            options = resolved;
            // Validate checked the given vocabulary (a preset's 257); the data's may make the model too large: refuse now,
            // before run.json is written, rather than when the model is built
            options.Model.CheckFitsMemory();
            if (saved is not null) CheckResumeCompatible(saved, options, run.OptionsFile);
            var task = TaskEvaluator ?? BuiltinTask.Evaluator(dataDir, options.Model.MaxSeqLen);
            foreach (var w in task?.Warnings ?? []) log("warning: " + w);
            if (dataset.Train.Length < options.SeqLen + 1)
                throw new InvalidDataException($"the train split of {dataDir} has {dataset.Train.Length} tokens, fewer than seq_len + 1 = {options.SeqLen + 1}");
            return new RunPlan(run, options, dataDir, dataset, task, resumeDir, damaged);
        }
        catch
        {
            dataset.Dispose();
            throw;
        }
    }

    /// <summary>Everything is checked: only now change the run directory (a new run replaces a previous one and writes run.json).</summary>
    private void ClaimRunDirectory(RunPlan plan)
    {
        var run = plan.Run;
        if (!Resume && run.HasRun) ClearRun(run);
        Directory.CreateDirectory(run.Root);
        Checkpoint.CleanIncomplete(run);
        if (!Resume) plan.Options.Save(run.OptionsFile);
    }

    /// <summary>Deletes a previous run's files (not its generated data, which is reused).</summary>
    private static void ClearRun(RunDirectory run)
    {
        foreach (var f in new[] { run.OptionsFile, run.Metrics, run.Plot, run.Summary })
            if (File.Exists(f)) File.Delete(f);
        foreach (var d in new[] { run.CheckpointsDir, run.Final })
            if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
    }

    private static void CheckResumeCompatible(TrainOptions saved, TrainOptions given, string source)
    {
        var diffs = ResumeDifferences(saved, given);
        if (diffs.Count > 0)
            throw new ArgumentException($"--resume continues the run saved in {source}, but these options differ: {string.Join("; ", diffs)}");
    }

    /// <summary>
    /// The options of <paramref name="given"/> that a run saved with <paramref name="saved"/> cannot continue with,
    /// as "name given (saved: value)"; empty when it can (paths, steps, evaluation/checkpoint cadence and the attention
    /// kernel may change). <paramref name="given"/> is compared as resolved against its dataset
    /// (<see cref="TrainOptions.ResolveVocabulary"/>), as run.json was saved.
    /// </summary>
    public static IReadOnlyList<string> ResumeDifferences(TrainOptions saved, TrainOptions given)
    {
        var a = System.Text.Json.Nodes.JsonNode.Parse(saved.ToJson())!.AsObject();
        var b = System.Text.Json.Nodes.JsonNode.Parse(given.ToJson())!.AsObject();
        var diffs = new List<string>();
        foreach (var (key, value) in a)
        {
            if (ResumeMutable.Contains(key) || key == "model" || key == "vocab_from_data") continue;
            string sa = value?.ToJsonString() ?? "null", sb = b[key]?.ToJsonString() ?? "null";
            if (sa != sb) diffs.Add($"{key} {sb} (saved: {sa})");
        }
        // vocab_from_data only says where vocab_size came from; the resolved model itself must match
        var ma = saved.Model;
        var mb = given.Model;
        if (ma != mb) diffs.Add($"model {mb.ToJson().ReplaceLineEndings(" ")} (saved: {ma.ToJson().ReplaceLineEndings(" ")})");
        return diffs;
    }
}
