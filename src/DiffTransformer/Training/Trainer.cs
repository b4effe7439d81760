using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tasks;
using static TorchSharp.torch;

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

    public TrainResult Run(CancellationToken cancel = default)
    {
        var run = new RunDirectory(Options.Out);
        // absolute paths in run.json, so a run resumes from any working directory
        var options = Options with { Out = run.Root, Data = Options.Data is null ? null : Path.GetFullPath(Options.Data) };
        TrainerState? resumeFrom = null;
        string? resumeDir = null;

        if (Resume)
        {
            var saved = LoadRunOptions(run.Root);
            CheckResumeCompatible(saved, options, run.OptionsFile);
            resumeDir = run.Latest() ?? throw new InvalidDataException($"{run.Root} has no complete checkpoint to resume from");
            resumeFrom = Checkpoint.LoadState(resumeDir);
        }
        else if (run.HasRun && !Force)
        {
            throw new IOException($"{run.Root} already holds a run; use --resume to continue it or --force to start over");
        }

        // ---- data ----
        string dataDir = options.Data ?? BuiltinTask.EnsureDataset(run.Data, log);
        using var dataset = TokenDataset.Open(dataDir);
        var meta = dataset.Meta;
        if (resumeFrom is not null && resumeFrom.Tokenizer != meta.Tokenizer)
            throw new InvalidDataException($"the checkpoint {resumeDir} was trained with tokenizer '{resumeFrom.Tokenizer}' but the dataset {dataDir} uses '{meta.Tokenizer}'");
        var config = options.Model;
        if (options.VocabFromData && !Resume && config.VocabSize != meta.VocabSize)
        {
            log($"vocab_size set to {meta.VocabSize} from the dataset's tokenizer '{meta.Tokenizer}' (was {config.VocabSize})");
            config = config with { VocabSize = meta.VocabSize };
        }
        if (meta.VocabSize > config.VocabSize)
            throw new ConfigException($"the dataset's tokenizer '{meta.Tokenizer}' has {meta.VocabSize} tokens but the model's vocab_size is {config.VocabSize}; set vocab_size to at least {meta.VocabSize}");
        options = options with { Model = config };
        var task = TaskEvaluator ?? BuiltinTask.Evaluator(dataDir, config.MaxSeqLen);

        if (dataset.Train.Length < options.SeqLen + 1)
            throw new InvalidDataException($"the train split of {dataDir} has {dataset.Train.Length} tokens, fewer than seq_len + 1 = {options.SeqLen + 1}");

        // Everything is checked: only now change the run directory.
        if (!Resume && run.HasRun) ClearRun(run);
        Directory.CreateDirectory(run.Root);
        Checkpoint.CleanIncomplete(run);
        if (!Resume) options.Save(run.OptionsFile);

        // ---- model and optimizer ----
        manual_seed(options.Seed);
        using var model = new LanguageModel(config) { Kernel = options.Kernel };
        using var optimizer = new AdamW(model.named_parameters(), options.Beta1, options.Beta2, options.Eps, options.WeightDecay);
        var metrics = new MetricsLog(run.Metrics);
        var state = new TrainerState { Tokenizer = meta.Tokenizer };
        if (resumeDir is not null)
        {
            state = Checkpoint.Restore(resumeDir, model, optimizer);
            metrics.TruncateAfter(state.Step);
            log($"resumed from {resumeDir} at step {state.Step} ({state.Tokens:N0} tokens)");
        }
        else if (File.Exists(run.Metrics))
        {
            File.Delete(run.Metrics);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        log($"{(config.Arch == Architecture.Diff ? "DIFF Transformer" : "Transformer")}: {parameters:N0} parameters; data {dataDir} " +
            $"({meta.Tokenizer}, train {dataset.Train.Length:N0} tokens, val {dataset.Val.Length:N0}); " +
            $"{options.Steps} steps × {options.EffectiveTokensPerStep:N0} tokens (batch {options.BatchSize} × {options.SeqLen}" +
            (options.AccumulationSteps > 1 ? $" × {options.AccumulationSteps} micro-batches" : "") + ")");

        var schedule = options.MakeSchedule();
        var trainSampler = new TokenBatchSampler(dataset.Train, options.Seed);
        TokenBatchSampler? valSampler = null;
        if (options.EvalInterval > 0)
        {
            if (dataset.Val.Length > options.SeqLen + 1) valSampler = new TokenBatchSampler(dataset.Val, options.Seed);
            else log($"validation disabled: the val split has {dataset.Val.Length} tokens, fewer than seq_len + 1 = {options.SeqLen + 1}");
        }

        int b = options.BatchSize, t = options.SeqLen, accum = options.AccumulationSteps;
        long startStep = state.Step;
        var sessionTimer = Stopwatch.StartNew();
        double trainSeconds = 0;
        long sessionTokens = 0;
        var recentLosses = new List<double>();
        double? lastVal = state.LastValLoss;
        IReadOnlyDictionary<string, double> lastTask = new Dictionary<string, double>();
        string? lastCheckpoint = resumeDir;
        double emaTps = 0;

        string SaveCheckpoint(long completed)
        {
            state = state with { Step = completed, LastValLoss = lastVal };
            string dir = Checkpoint.Save(run, model, optimizer, state, options.KeepCheckpoints);
            log($"checkpoint {Path.GetRelativePath(run.Root, dir)}");
            return dir;
        }

        void Evaluate(long completed)
        {
            var sw = Stopwatch.StartNew();
            if (valSampler is not null)
            {
                lastVal = ValidationLoss(model, valSampler, b, t, options.EvalBatches);
            }
            if (task is not null) lastTask = task.Evaluate(model);
            metrics.Append(new MetricRecord
            {
                Kind = "eval", Step = completed, ValLoss = lastVal, Lambda = Lambdas(model),
                Task = lastTask.Count > 0 ? new Dictionary<string, double>(lastTask) : null,
            });
            string taskText = string.Concat(lastTask.Select(kv => $", {kv.Key} {kv.Value:F3}"));
            log($"step {completed}: val loss {(lastVal is double v ? v.ToString("F4") : "n/a")}{taskText} ({sw.Elapsed.TotalSeconds:F1} s)");
        }

        for (long step = startStep; step < options.Steps; step++)
        {
            if (cancel.IsCancellationRequested)
            {
                lastCheckpoint = SaveCheckpoint(step);
                TryPlot(run, model.Config);
                log($"interrupted after step {step}; resume with --resume");
                return Result(TrainOutcome.Interrupted, step);
            }

            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            for (int micro = 0; micro < accum; micro++)
            {
                var (inputs, targets) = trainSampler.GetRows(state.NextRow, b, t);
                using var scope = NewDisposeScope();
                var x = tensor(inputs, [b, t]);                                  // (B, T)
                var y = tensor(targets, [b, t]);                                 // (B, T)
                var loss = LanguageModel.CrossEntropy(model.Forward(x), y);     // ()
                double value = loss.item<float>();
                if (LossOverride is not null) value = LossOverride(step + 1, value);
                if (!double.IsFinite(value)) throw Diverged(step + 1, value, micro);
                (accum == 1 ? loss : loss.div(accum)).backward();
                lossSum += value;
                state = state with { NextRow = state.NextRow + b };
            }
            double gradNorm = optimizer.ClipGradNorm(options.GradClip);
            if (!double.IsFinite(gradNorm)) throw Diverged(step + 1, gradNorm, -1);
            double lr = schedule.At(step);
            optimizer.Update(lr);
            optimizer.ZeroGrad();

            double seconds = sw.Elapsed.TotalSeconds;
            trainSeconds += seconds;
            long stepTokens = (long)accum * b * t;
            sessionTokens += stepTokens;
            double tps = stepTokens / seconds;
            emaTps = emaTps == 0 ? tps : 0.9 * emaTps + 0.1 * tps;
            double meanLoss = lossSum / accum;
            recentLosses.Add(meanLoss);
            long completed = step + 1;
            state = state with { Step = completed, Tokens = state.Tokens + stepTokens, ElapsedSeconds = state.ElapsedSeconds + seconds };
            metrics.Append(new MetricRecord
            {
                Kind = "train", Step = completed, Loss = meanLoss, Lr = lr, GradNorm = gradNorm, Tokens = state.Tokens,
                TokensPerSecond = Math.Round(tps, 1), ElapsedSeconds = Math.Round(state.ElapsedSeconds, 3),
                Lambda = completed % 10 == 0 ? Lambdas(model) : null,
            });

            bool last = completed == options.Steps;
            if (options.EvalInterval > 0 && (completed % options.EvalInterval == 0 || last)) Evaluate(completed);
            if (last || (options.CheckpointInterval > 0 && completed % options.CheckpointInterval == 0))
                lastCheckpoint = SaveCheckpoint(completed);

            var eta = TimeSpan.FromSeconds((options.Steps - completed) * (trainSeconds / (completed - startStep)));
            progress?.Report(new TrainProgress(completed, options.Steps, meanLoss, lr, emaTps, sessionTimer.Elapsed, eta, lastVal, lastTask));
        }

        ModelStore.Save(model, run.Final, meta.Tokenizer);
        TryPlot(run, model.Config);
        var result = Result(TrainOutcome.Completed, state.Step) with { FinalModel = run.Final };
        Json.Write(run.Summary, result, Json.Escaped);
        return result;

        TrainResult Result(TrainOutcome outcome, long step)
        {
            var tail = recentLosses.Skip(recentLosses.Count - Math.Max(1, recentLosses.Count / 10)).ToList();
            var result = new TrainResult
            {
                Outcome = outcome, RunDirectory = run.Root, Step = step, Parameters = parameters, Model = config,
                FinalTrainLoss = tail.Count > 0 ? tail.Average() : null, FinalValLoss = lastVal,
                TokensPerSecond = trainSeconds > 0 ? sessionTokens / trainSeconds : 0, Task = lastTask,
                LastCheckpoint = lastCheckpoint, Elapsed = sessionTimer.Elapsed,
            };
            return step > startStep ? result : FromEarlierSessions(result);
        }

        // A session that ran no step (resumed at the last one) reports what the earlier sessions measured rather than
        // empty figures: the last 10% of the logged training losses, the last task scores, the previous summary's speed.
        TrainResult FromEarlierSessions(TrainResult r)
        {
            var records = File.Exists(run.Metrics) ? MetricsLog.Read(run.Metrics) : [];
            var losses = records.Where(m => m.Kind == "train" && m.Step <= r.Step && m.Loss is not null).Select(m => m.Loss!.Value).ToList();
            var lastEval = records.LastOrDefault(m => m.Kind == "eval" && m.Step <= r.Step);
            var previous = File.Exists(run.Summary) ? LoadSummary(run.Root) : null;
            return r with
            {
                FinalTrainLoss = losses.Count > 0 ? losses.Skip(losses.Count - Math.Max(1, losses.Count / 10)).Average() : r.FinalTrainLoss,
                Task = lastEval?.Task is { Count: > 0 } task ? task : r.Task,
                TokensPerSecond = previous?.TokensPerSecond ?? r.TokensPerSecond,
                Elapsed = previous?.Elapsed ?? r.Elapsed,
            };
        }

        TrainingDivergedException Diverged(long completedStep, double value, int micro)
        {
            string where = micro >= 0 ? $"loss {value} at step {completedStep}" + (accum > 1 ? $" (micro-batch {micro + 1} of {accum})" : "")
                                      : $"gradient norm {value} at step {completedStep}";
            string keep = lastCheckpoint is null ? "no checkpoint had been written yet" : $"the last good checkpoint is {lastCheckpoint}";
            return new TrainingDivergedException($"training diverged: {where}; stopped without updating the weights; {keep}. Try a lower learning rate (now {options.LearningRate}) or more warm-up.");
        }
    }

    /// <summary>Deletes a previous run's files (not its generated data, which is reused).</summary>
    private static void ClearRun(RunDirectory run)
    {
        foreach (var f in new[] { run.OptionsFile, run.Metrics, run.Plot, run.Summary })
            if (File.Exists(f)) File.Delete(f);
        foreach (var d in new[] { run.CheckpointsDir, run.Final })
            if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
    }

    private static double ValidationLoss(LanguageModel model, TokenBatchSampler sampler, int b, int t, int maxBatches)
    {
        using var _ = no_grad();
        double sum = 0;
        int n = 0;
        foreach (var (inputs, targets) in sampler.EvalBatches(b, t, maxBatches))
        {
            using var scope = NewDisposeScope();
            var loss = LanguageModel.CrossEntropy(model.Forward(tensor(inputs, [b, t])), tensor(targets, [b, t]));
            sum += loss.item<float>();
            n++;
        }
        return sum / n;
    }

    private static double[]? Lambdas(LanguageModel model)
    {
        if (model.Config.Arch != Architecture.Diff) return null;
        using var _ = no_grad();
        return model.Layers.Select(l =>
        {
            using var lam = ((DifferentialAttention)l.Attention).LambdaFull();
            return Math.Round((double)lam.item<float>(), 5);
        }).ToArray();
    }

    private void TryPlot(RunDirectory run, ModelConfig config)
    {
        try
        {
            string label = config.Arch == Architecture.Diff ? "DIFF" : "Transformer";
            LossPlot.Write(run.Plot, $"{label}: {Path.GetFileName(run.Root)}", [new LossPlot.Series(label, MetricsLog.Read(run.Metrics))]);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log($"warning: could not write {run.Plot}: {e.Message}");
        }
    }

    private static void CheckResumeCompatible(TrainOptions saved, TrainOptions given, string source)
    {
        var diffs = ResumeDifferences(saved, given);
        if (diffs.Count > 0)
            throw new ArgumentException($"--resume continues the run saved in {source}, but these options differ: {string.Join("; ", diffs)}");
    }

    /// <summary>
    /// The options of <paramref name="given"/> that a run saved with <paramref name="saved"/> cannot continue with,
    /// as "name given (saved: value)"; empty when it can (paths, steps and evaluation/checkpoint cadence may change).
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
        // The model must match too, except a vocabulary the saved run took from its data.
        var ma = saved.Model;
        var mb = given.VocabFromData ? given.Model with { VocabSize = ma.VocabSize } : given.Model;
        if (ma != mb) diffs.Add($"model {mb.ToJson().ReplaceLineEndings(" ")} (saved: {ma.ToJson().ReplaceLineEndings(" ")})");
        return diffs;
    }
}
