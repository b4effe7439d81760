using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>
/// The paper's multi-needle retrieval (docs/EVALUATION.md, "eval needle"): for every prompt length × N/R setting × answer
/// depth, <see cref="NeedleEvalOptions.Samples"/> documents of haystack with N needles, the first R of them at the depth
/// (in a row) and the rest at random depths; each of the R is asked in its own prompt, answered by greedy decoding and
/// classified (<see cref="NeedleAnswers.Classify"/>). The documents are a function of the seed, the cell and the
/// tokenizer, so models with one tokenizer see the same documents.
/// </summary>
public static class NeedleEval
{
    public static NeedleEvalResult Run(IReadOnlyList<EvalModel> models, NeedleEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var lengths = Check(models, options);
        var haystack = NeedleDataset.OpenHaystack(options.Haystack, options.HaystackField, options.Seed);

        var scores = new List<NeedleModelScore>();
        for (int mi = 0; mi < models.Count; mi++)
        {
            var m = models[mi];
            scores.Add(Score(m, haystack, options, lengths, progress is null ? null : s => progress.Report($"model {mi + 1}/{models.Count} {m.Label}: {s}"), cancel));
        }
        return new NeedleEvalResult(haystack.Source, lengths, options.Settings.Select(s => s.ToString()).ToList(), options.Depths, options.Samples, scores);
    }

    /// <summary>One model over the grid of <paramref name="lengths"/> (as <see cref="Check"/> returns them) with the given haystack.</summary>
    public static NeedleModelScore Score(EvalModel m, Haystack haystack, NeedleEvalOptions options, IReadOnlyList<int> lengths,
        Action<string>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int totalCells = lengths.Count * options.Settings.Count * options.Depths.Count, cellsDone = 0;
        var cells = new List<NeedleCell>();
        var answers = new List<NeedleAnswer>();
        foreach (var gridCell in NeedleGridCell.All(lengths, options))
        {
            cancel.ThrowIfCancellationRequested();
            var (cell, cellAnswers) = RunCell(m, haystack, options, gridCell);
            cells.Add(cell);
            answers.AddRange(cellAnswers);
            cellsDone++;
            if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
            {
                lastReport = clock.Elapsed;
                progress($"cell {cellsDone}/{totalCells} ({gridCell}), {clock.Elapsed.TotalSeconds:F0} s");
            }
        }
        return new NeedleModelScore(m.Info, cells, answers);
    }

    /// <summary>
    /// Checks the grid against the models before anything runs (every message names the value and, where it applies,
    /// the model's path and limit); returns the prompt lengths.
    /// </summary>
    public static IReadOnlyList<int> Check(IReadOnlyList<EvalModel> models, NeedleEvalOptions options)
    {
        if (models.Count == 0) throw new ArgumentException("no models to evaluate");
        options.Task.Validate();
        if (options.Samples < 1) throw new ArgumentException($"--samples must be at least 1, got {options.Samples}");
        if (options.Settings.Count == 0 || options.Depths.Count == 0) throw new ArgumentException("the grid needs at least one N/R setting and one depth");
        foreach (var d in options.Depths)
            if (!(d >= 0 && d <= 1)) throw new ArgumentException($"depth {d} is outside [0, 1] (give depths as fractions, e.g. 0.25)");
        foreach (var s in options.Settings)
            if (s.Needles > options.Task.Keys.Count) throw new ArgumentException($"setting {s} needs {s.Needles} keys; {options.Task.Keys.Count} are given");
        var lengths = options.Lengths ?? DefaultLengths(models);
        foreach (var m in models)
            foreach (int l in lengths)
                if (l > m.Config.MaxSeqLen)
                    throw new ArgumentException($"prompt length {l} is longer than the context of the model at {m.Path} (max_seq_len {m.Config.MaxSeqLen})");
        foreach (var m in models) CheckEncodes(m.Tokenizer, options.Task);
        return lengths;
    }

    /// <summary>A quarter, half and all of the shortest context among the models.</summary>
    public static IReadOnlyList<int> DefaultLengths(IReadOnlyList<EvalModel> models)
    {
        int max = models.Min(m => m.Config.MaxSeqLen);
        return new[] { max / 4, max / 2, max }.Where(l => l > 0).Distinct().ToList();
    }

    /// <summary>The documents of one cell (<see cref="NeedleBuilder.Prompts"/>), drawn from the seed and the cell; <c>eval attention</c> measures on the same ones.</summary>
    public static List<NeedlePrompt> CellPrompts(ITokenizer tokenizer, Haystack haystack, NeedleEvalOptions options, NeedleGridCell cell) =>
        NeedleBuilder.Prompts(tokenizer, haystack, options.Task, cell.Length, options.MaxNewTokens, cell.Setting.Needles, cell.Setting.Asked, cell.Depth,
                              options.Samples, (ulong)options.Seed ^ cell.Key * 0x9E3779B97F4A7C15UL);

    private static (NeedleCell, List<NeedleAnswer>) RunCell(EvalModel m, Haystack haystack, NeedleEvalOptions options, NeedleGridCell cell)
    {
        var classes = Enum.GetValues<AnswerClass>().ToDictionary(k => k, _ => 0);
        var prompts = CellPrompts(m.Tokenizer, haystack, options, cell);
        if (prompts.Count == 0) return (new NeedleCell(cell.Length, cell.Setting.ToString(), cell.Depth, false, classes), []);
        var outputs = GreedyDecoder.Decode(m.Model, prompts.Select(p => p.Tokens).ToList(), options.MaxNewTokens, options.BatchSize);
        var answers = new List<NeedleAnswer>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var p = prompts[i];
            string generated = m.Tokenizer.Decode(outputs[i]);
            var k = NeedleAnswers.Classify(generated, p.Value, p.OtherValues, p.ContextText);
            classes[k]++;
            answers.Add(new NeedleAnswer(cell.Length, cell.Setting.ToString(), cell.Depth, p.Sample, p.Key, p.Value, generated, k));
        }
        return (new NeedleCell(cell.Length, cell.Setting.ToString(), cell.Depth, true, classes), answers);
    }

    /// <summary>Refuses a tokenizer that does not give back the needle and question it encoded (the message names both).</summary>
    public static void CheckEncodes(ITokenizer tokenizer, NeedleTaskOptions task)
    {
        string key = task.Keys[0], value = new('7', task.ValueDigits);
        var (tokens, _, _) = task.Template.EncodeNeedle(tokenizer, key, value);
        string expected = " " + task.Template.Needle.Replace(NeedleTemplate.KeySlot, key).Replace(NeedleTemplate.ValueSlot, value);
        string back = tokenizer.Decode(tokens);
        if (back != expected)
            throw new ArgumentException($"the tokenizer '{tokenizer.Name}' cannot encode the needle: \"{expected}\" comes back as \"{back}\"");
    }
}
