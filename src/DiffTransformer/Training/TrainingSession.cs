using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using DiffTransformer.Tasks;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

/// <summary>
/// One training session of a checked run (<see cref="RunPlan"/>): builds the model and optimizer (restoring the
/// checkpoint on resume), runs the optimizer steps, evaluates and checkpoints at their intervals, and summarises.
/// </summary>
internal sealed class TrainingSession : IDisposable
{
    private readonly RunDirectory run;
    private readonly TrainOptions options;
    private readonly ModelConfig config;
    private readonly DatasetMeta meta;
    private readonly ITaskEvaluator? task;
    private readonly Action<string> log;
    private readonly IProgress<TrainProgress>? progress;
    private readonly Func<long, double, double>? lossOverride;

    private readonly LanguageModel model;
    private readonly AdamW optimizer;
    private readonly MetricsLog metrics;
    private readonly LrSchedule schedule;
    private readonly TokenBatchSampler trainSampler;
    private readonly TokenBatchSampler? valSampler;
    private readonly long parameters;
    private readonly int b, t, accum;

    private TrainerState state;
    private readonly long startStep;
    private readonly Stopwatch sessionTimer;
    private double trainSeconds;
    private long sessionTokens;
    private readonly List<double> recentLosses = [];
    private double? lastVal;
    private IReadOnlyDictionary<string, double> lastTask = new Dictionary<string, double>();
    private string? lastCheckpoint;
    private readonly HashSet<string> damagedCheckpoints;
    private double emaTps;

    public TrainingSession(RunPlan plan, Action<string> log, IProgress<TrainProgress>? progress, Func<long, double, double>? lossOverride)
    {
        (run, options, task, meta) = (plan.Run, plan.Options, plan.Task, plan.Dataset.Meta);
        config = options.Model;
        (this.log, this.progress, this.lossOverride) = (log, progress, lossOverride);
        (b, t, accum) = (options.BatchSize, options.SeqLen, options.AccumulationSteps);
        damagedCheckpoints = new HashSet<string>(plan.DamagedCheckpoints, StringComparer.Ordinal);

        manual_seed(options.Seed);
        model = new LanguageModel(config) { Kernel = options.Kernel };
        optimizer = new AdamW(model.named_parameters(), options.Beta1, options.Beta2, options.Eps, options.WeightDecay);
        try
        {
            metrics = new MetricsLog(run.Metrics);
            state = new TrainerState { Tokenizer = meta.Tokenizer };
            if (plan.ResumeDir is not null)
            {
                state = Checkpoint.Restore(plan.ResumeDir, model, optimizer);
                metrics.TruncateAfter(state.Step);
                log($"resumed from {plan.ResumeDir} at step {state.Step} ({state.Tokens:N0} tokens)");
            }
            else if (File.Exists(run.Metrics))
            {
                File.Delete(run.Metrics);
            }
            parameters = model.parameters().Sum(p => p.numel());
            var dataset = plan.Dataset;
            log($"{(config.Arch == Architecture.Transformer ? "Transformer" : ArchitectureNames.Label(config.Arch) + " Transformer")}: {parameters:N0} parameters; data {plan.DataDir} " +
                $"({meta.Tokenizer}, train {dataset.Train.Length:N0} tokens, val {dataset.Val.Length:N0}); " +
                $"{options.Steps} steps × {options.EffectiveTokensPerStep:N0} tokens (batch {b} × {t}" +
                (accum > 1 ? $" × {accum} micro-batches" : "") + ")");

            schedule = options.MakeSchedule();
            if (options.Windows == WindowSampling.Documents)
            {
                var starts = TokenBatchSampler.DocumentStarts(dataset.Train, meta.EotId, t);
                trainSampler = new TokenBatchSampler(dataset.Train, options.Seed, starts, t);
                log($"training windows start at document boundaries ({starts.Length:N0} of them)");
            }
            else trainSampler = new TokenBatchSampler(dataset.Train, options.Seed);
            if (options.EvalInterval > 0)
            {
                if (dataset.Val.Length > t + 1)
                    valSampler = options.Windows == WindowSampling.Documents
                        ? new TokenBatchSampler(dataset.Val, options.Seed, TokenBatchSampler.DocumentStarts(dataset.Val, meta.EotId, t), t)
                        : new TokenBatchSampler(dataset.Val, options.Seed);
                else log($"validation disabled: the val split has {dataset.Val.Length} tokens, fewer than seq_len + 1 = {t + 1}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        startStep = state.Step;
        lastVal = state.LastValLoss;
        lastCheckpoint = plan.ResumeDir;
        sessionTimer = Stopwatch.StartNew();
    }

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
    }

    /// <summary>Steps from the checkpoint (or 0) to <see cref="TrainOptions.Steps"/>; on cancellation, checkpoints and stops.</summary>
    public TrainResult Run(CancellationToken cancel)
    {
        for (long step = startStep; step < options.Steps; step++)
        {
            if (cancel.IsCancellationRequested) return Interrupt(step);
            var (meanLoss, lr) = TrainStep(step);
            long completed = step + 1;
            bool last = completed == options.Steps;
            if (options.EvalInterval > 0 && (completed % options.EvalInterval == 0 || last)) Evaluate(completed);
            if (last || (options.CheckpointInterval > 0 && completed % options.CheckpointInterval == 0))
                lastCheckpoint = SaveCheckpoint(completed);

            var eta = TimeSpan.FromSeconds((options.Steps - completed) * (trainSeconds / (completed - startStep)));
            progress?.Report(new TrainProgress(completed, options.Steps, meanLoss, lr, emaTps, sessionTimer.Elapsed, eta, lastVal, lastTask));
        }
        return Complete();
    }

    /// <summary>
    /// Optimizer step <paramref name="step"/> (0-based): the micro-batches' gradients accumulated, clipped, one AdamW
    /// update; logged to metrics.jsonl. Returns the mean loss and the learning rate. A non-finite loss or gradient norm
    /// stops the run before the weights change.
    /// </summary>
    private (double MeanLoss, double Lr) TrainStep(long step)
    {
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
            if (lossOverride is not null) value = lossOverride(step + 1, value);
            if (!double.IsFinite(value)) throw Diverged(step + 1, value, micro);
            (accum == 1 ? loss : loss.div(Scalars.Of(accum))).backward();
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
            Lambda = completed % 10 == 0 ? Lambdas() : null,
        });
        return (meanLoss, lr);
    }

    /// <summary>Validation loss and task metrics after <paramref name="completed"/> steps; logged to metrics.jsonl.</summary>
    private void Evaluate(long completed)
    {
        var sw = Stopwatch.StartNew();
        if (valSampler is not null) lastVal = ValidationLoss(valSampler);
        if (task is not null) lastTask = task.Evaluate(model);
        metrics.Append(new MetricRecord
        {
            Kind = "eval", Step = completed, ValLoss = lastVal, Lambda = Lambdas(),
            Task = lastTask.Count > 0 ? new Dictionary<string, double>(lastTask) : null,
        });
        string taskText = string.Concat(lastTask.Select(kv => $", {kv.Key} {kv.Value:F3}"));
        log($"step {completed}: val loss {(lastVal is double v ? v.ToString("F4") : "n/a")}{taskText} ({sw.Elapsed.TotalSeconds:F1} s)");
    }

    private double ValidationLoss(TokenBatchSampler sampler)
    {
        using var _ = no_grad();
        double sum = 0;
        int n = 0;
        foreach (var (inputs, targets) in sampler.EvalBatches(b, t, options.EvalBatches))
        {
            using var scope = NewDisposeScope();
            var loss = LanguageModel.CrossEntropy(model.Forward(tensor(inputs, [b, t])), tensor(targets, [b, t]));
            sum += loss.item<float>();
            n++;
        }
        return sum / n;
    }

    /// <summary>DIFF: λ of each layer (rounded for the log); null for the baseline.</summary>
    private double[]? Lambdas()
    {
        if (config.Arch != Architecture.Diff) return null;
        using var _ = no_grad();
        return model.Layers.Select(l =>
        {
            using var lam = ((DifferentialAttention)l.Attention).LambdaFull();
            return Math.Round((double)lam.item<float>(), 5);
        }).ToArray();
    }

    /// <summary>Checkpoints the state after <paramref name="completed"/> steps; returns its directory.</summary>
    private string SaveCheckpoint(long completed)
    {
        state = state with { Step = completed, LastValLoss = lastVal };
        string dir = Checkpoint.Save(run, model, optimizer, state, options.KeepCheckpoints, damagedCheckpoints);
        log($"checkpoint {Path.GetRelativePath(run.Root, dir)}");
        return dir;
    }

    /// <summary>Stopped on request before step <paramref name="step"/> + 1: checkpoint, plot, report.</summary>
    private TrainResult Interrupt(long step)
    {
        lastCheckpoint = SaveCheckpoint(step);
        TryPlot();
        log($"interrupted after step {step}; resume with --resume");
        return Summarise(TrainOutcome.Interrupted, step);
    }

    /// <summary>All steps done: the final model, the plot and summary.json.</summary>
    private TrainResult Complete()
    {
        ModelStore.Save(model, run.Final, meta.Tokenizer);
        TryPlot();
        var result = Summarise(TrainOutcome.Completed, state.Step) with { FinalModel = run.Final };
        Json.Write(run.Summary, result, Json.Escaped);
        return result;
    }

    private void TryPlot()
    {
        try
        {
            string label = ArchitectureNames.Label(config.Arch);
            LossPlot.Write(run.Plot, $"{label}: {Path.GetFileName(run.Root)}", [new LossPlot.Series(label, MetricsLog.Read(run.Metrics))]);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log($"warning: could not write {run.Plot}: {e.Message}");
        }
    }

    /// <summary>The session's result at <paramref name="step"/>: the last 10% of its training losses, its speed and last evaluation.</summary>
    private TrainResult Summarise(TrainOutcome outcome, long step)
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

    /// <summary>
    /// A session that ran no step (resumed at the last one) reports what the earlier sessions measured rather than
    /// empty figures: the last 10% of the logged training losses, the last task scores, the previous summary's speed.
    /// </summary>
    private TrainResult FromEarlierSessions(TrainResult r)
    {
        var records = File.Exists(run.Metrics) ? MetricsLog.Read(run.Metrics) : [];
        var losses = records.Where(m => m.Kind == "train" && m.Step <= r.Step && m.Loss is not null).Select(m => m.Loss!.Value).ToList();
        var lastEval = records.LastOrDefault(m => m.Kind == "eval" && m.Step <= r.Step);
        var previous = Trainer.LoadSummary(run.Root);
        return r with
        {
            FinalTrainLoss = losses.Count > 0 ? losses.Skip(losses.Count - Math.Max(1, losses.Count / 10)).Average() : r.FinalTrainLoss,
            Task = lastEval?.Task is { Count: > 0 } scores ? scores : r.Task,
            TokensPerSecond = previous?.TokensPerSecond ?? r.TokensPerSecond,
            Elapsed = previous?.Elapsed ?? r.Elapsed,
        };
    }

    private TrainingDivergedException Diverged(long completedStep, double value, int micro)
    {
        string where = micro >= 0 ? $"loss {value} at step {completedStep}" + (accum > 1 ? $" (micro-batch {micro + 1} of {accum})" : "")
                                  : $"gradient norm {value} at step {completedStep}";
        string keep = lastCheckpoint is null ? "no checkpoint had been written yet" : $"the last good checkpoint is {lastCheckpoint}";
        return new TrainingDivergedException($"training diverged: {where}; stopped without updating the weights; {keep}. Try a lower learning rate (now {options.LearningRate}) or more warm-up.");
    }
}
