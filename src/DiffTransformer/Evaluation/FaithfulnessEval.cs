using System.Diagnostics;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Training;

namespace DiffTransformer.Evaluation;

/// <summary>
/// A judge-free test of contextual hallucination (docs/EVALUATION.md, "eval faithfulness"), on models trained on the facts
/// task (<see cref="NeedleBuilder.FactDocument"/>): they have memorised fixed facts ("the magic number of Dakar is 512").
/// A counterfactual context states such a fact with another value and asks it: an answer that follows the context is
/// faithful, one that gives the memorised value is a hallucination in the paper's sense (not grounded in the context).
/// Closed-book questions (the fact not stated) show whether the fact was learnt at all; open-book questions on ordinary
/// keys give retrieval and the unsupported-answer rate without a competing memory. For every prompt length × number of
/// distractor needles × probe, <see cref="FaithfulnessEvalOptions.Samples"/> documents, greedy decoding.
/// </summary>
public static class FaithfulnessEval
{
    public static FaithfulnessEvalResult Run(IReadOnlyList<EvalModel> models, FaithfulnessEvalOptions options, IProgress<string>? progress = null,
        CancellationToken cancel = default)
    {
        var (task, source) = ResolveTask(models, options);
        var lengths = Check(models, options, task.Options);
        var haystack = options.Haystack is { } h ? NeedleDataset.OpenHaystack(h, options.HaystackField, options.Seed)
                                                 : NeedleDataset.OpenHaystack(task.Haystack, task.HaystackField, task.Seed);
        int answerRoom = task.Options.ValueDigits + 3;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        var probes = Enum.GetValues<FactProbe>();
        int total = models.Count * lengths.Count * options.Distractors.Count * probes.Length, done = 0;
        var scores = new List<FaithfulnessModelScore>();
        foreach (var m in models)
        {
            var cells = new List<FaithfulnessCell>();
            var answers = new List<FaithfulnessAnswer>();
            foreach (int length in lengths)
                foreach (int distractors in options.Distractors)
                    foreach (var probe in probes)
                    {
                        cancel.ThrowIfCancellationRequested();
                        ulong seed = (ulong)options.Seed ^ ((ulong)length * 0x9E3779B97F4A7C15UL) ^ ((ulong)(distractors + 1) * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)probe;
                        var prompts = NeedleBuilder.FactPrompts(m.Tokenizer, haystack, task.Options, probe, length, answerRoom, distractors, depth: -1, options.Samples, seed);
                        var classes = Enum.GetValues<FactAnswerClass>().ToDictionary(k => k, _ => 0);
                        if (prompts.Count > 0)
                        {
                            var outputs = GreedyDecoder.Decode(m.Model, prompts.Select(p => p.Prompt.Tokens).ToList(), answerRoom, options.BatchSize);
                            for (int i = 0; i < prompts.Count; i++)
                            {
                                var p = prompts[i];
                                string generated = m.Tokenizer.Decode(outputs[i]);
                                var k = NeedleAnswers.ClassifyFact(generated, p.ContextValue, p.MemorisedValue, p.Prompt.OtherValues, p.Prompt.ContextText);
                                classes[k]++;
                                answers.Add(new FaithfulnessAnswer(length, distractors, probe, p.Prompt.Sample, p.Prompt.Key, p.ContextValue, p.MemorisedValue, generated, k));
                            }
                        }
                        cells.Add(new FaithfulnessCell(length, distractors, probe, prompts.Count > 0, classes));
                        done++;
                        if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
                        {
                            lastReport = clock.Elapsed;
                            progress.Report($"{m.Label}: cell {done}/{total} (length {length}, {distractors} distractors, {probe}), {clock.Elapsed.TotalSeconds:F0} s");
                        }
                    }
            scores.Add(new FaithfulnessModelScore(m.Info, cells, answers));
        }
        return new FaithfulnessEvalResult(source, task.Options.Facts, haystack.Source, lengths, options.Distractors, options.Samples, scores);
    }

    /// <summary>
    /// The facts task the models are tested on: <see cref="FaithfulnessEvalOptions.Data"/>'s needle_task.json, or the one of
    /// the dataset each model was trained on (run.json beside its final/), which must be the same for all; with its path.
    /// </summary>
    public static (NeedleTaskFile Task, string Source) ResolveTask(IReadOnlyList<EvalModel> models, FaithfulnessEvalOptions options)
    {
        if (models.Count == 0) throw new ArgumentException("no models to evaluate");
        (NeedleTaskFile Task, string Source) Read(string dir, string why)
        {
            var task = NeedleDataset.ReadTask(dir) ?? throw new ArgumentException($"{dir} ({why}) holds no needle_task.json: eval faithfulness needs a dataset of the facts task (train --task facts)");
            if (task.Options.Facts.Count == 0)
                throw new ArgumentException($"the needle task of {dir} ({why}) has no fixed facts: eval faithfulness needs a dataset of the facts task (train --task facts)");
            return (task, dir);
        }
        if (options.Data is { } data)
        {
            if (!Directory.Exists(data)) throw new DirectoryNotFoundException($"--data {data}: no such directory");
            return Read(Path.GetFullPath(data), "--data");
        }
        (NeedleTaskFile Task, string Source)? first = null;
        foreach (var m in models)
        {
            string? dataDir = TrainingData(m.Path)
                ?? throw new ArgumentException($"the model at {m.Path} is not inside a run directory whose run.json names its data; give the facts dataset with --data");
            var found = Read(dataDir, $"the training data of {m.Path}");
            if (first is null) first = found;
            else if (IO.Json.Serialize(found.Task.Options) != IO.Json.Serialize(first.Value.Task.Options))
                throw new ArgumentException($"the models were trained on different facts tasks ({first.Value.Source} and {found.Source}); give one with --data");
        }
        return first!.Value;
    }

    /// <summary>The dataset a saved model was trained on: the data of the run directory around <paramref name="modelDir"/> (…/final), or null.</summary>
    public static string? TrainingData(string modelDir)
    {
        var runDir = Path.GetDirectoryName(Path.GetFullPath(modelDir).TrimEnd(Path.DirectorySeparatorChar));
        if (runDir is null || !File.Exists(new RunDirectory(runDir).OptionsFile)) return null;
        var run = Trainer.LoadRunOptions(runDir);
        return run.Data ?? new RunDirectory(runDir).Data;
    }

    /// <summary>Checks the grid against the models before anything runs; returns the prompt lengths.</summary>
    public static IReadOnlyList<int> Check(IReadOnlyList<EvalModel> models, FaithfulnessEvalOptions options, NeedleTaskOptions task)
    {
        task.Validate();
        if (options.Samples < 1) throw new ArgumentException($"--samples must be at least 1, got {options.Samples}");
        if (options.Distractors.Count == 0) throw new ArgumentException("--distractors needs at least one count");
        foreach (int d in options.Distractors)
            if (d < 0 || d + 1 > task.Keys.Count) throw new ArgumentException($"distractors {d} is outside [0, {task.Keys.Count - 1}] (the task has {task.Keys.Count} needle keys)");
        var lengths = options.Lengths ?? NeedleEval.DefaultLengths(models);
        foreach (var m in models)
            foreach (int l in lengths)
                if (l > m.Config.MaxSeqLen)
                    throw new ArgumentException($"prompt length {l} is longer than the context of the model at {m.Path} (max_seq_len {m.Config.MaxSeqLen})");
        foreach (var m in models) NeedleEval.CheckEncodes(m.Tokenizer, task);
        return lengths;
    }
}
