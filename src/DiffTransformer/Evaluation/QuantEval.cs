using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Low-bit attention logits (the paper's Figure 8; docs/EVALUATION.md, "eval quant"): every model's held-out loss
/// (<see cref="LmEval"/>) and needle accuracy (<see cref="NeedleEval"/>) at full precision — its normal forward — and
/// with the logits q·kᵀ/√d quantised before the softmax (<see cref="LogitQuantization"/>) to each bit width, per tensor
/// and per head. Quantised forwards run the explicit core, and needle answers are then decoded by recomputing the
/// whole sequence for each token (<see cref="GreedyDecoder"/>), so every scale group is a whole sequence's.
/// </summary>
public static class QuantEval
{
    public static QuantEvalResult Run(IReadOnlyList<EvalModel> models, QuantEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var settings = Settings(options);
        var documents = LmEval.CheckAndRead(models, options.Text, out string source);
        var lengths = NeedleEval.Check(models, options.Needle);
        var haystack = NeedleDataset.OpenHaystack(options.Needle.Haystack, options.Needle.HaystackField, options.Needle.Seed);
        var scores = new List<QuantModelScore>();
        for (int mi = 0; mi < models.Count; mi++)
        {
            var m = models[mi];
            var points = new List<QuantPoint>();
            foreach (var q in settings)
            {
                string at = $"model {mi + 1}/{models.Count} {m.Label}, {q?.ToString() ?? "full precision"}";
                Action<string>? report = progress is null ? null : s => progress.Report($"{at}: {s}");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                m.Model.Quantization = q;
                try
                {
                    var lm = LmEval.Score(m, documents, options.Text, report, cancel);
                    var needle = NeedleEval.Score(m, haystack, options.Needle, lengths, report, cancel);
                    points.Add(new QuantPoint(q?.Bits, q?.Granularity, lm.Tokens, lm.Loss, lm.BitsPerByte,
                        needle.Accuracy, needle.ClassRates[AnswerClass.Unsupported], clock.Elapsed.TotalSeconds));
                }
                finally
                {
                    m.Model.Quantization = null;
                }
                progress?.Report($"{at}: loss {points[^1].Loss:F4}, needle accuracy {points[^1].NeedleAccuracy:F3}");
            }
            scores.Add(new QuantModelScore(m.Info, points));
        }
        return new QuantEvalResult(source, documents.Count, haystack.Source, lengths, options.Bits, options.Granularities, scores);
    }

    /// <summary>Full precision (null), then every bit width × granularity; refuses empty or repeated lists and bits outside [2, 24].</summary>
    public static IReadOnlyList<LogitQuantization?> Settings(QuantEvalOptions options)
    {
        if (options.Bits.Count == 0) throw new ArgumentException("--bits lists no bit widths");
        if (options.Granularities.Count == 0) throw new ArgumentException("--granularity lists no granularity");
        foreach (int b in options.Bits)
            if (b < LogitQuantization.MinBits || b > LogitQuantization.MaxBits)
                throw new ArgumentException($"--bits {b} is outside [{LogitQuantization.MinBits}, {LogitQuantization.MaxBits}]");
        foreach (var b in options.Bits.GroupBy(b => b).Where(g => g.Count() > 1)) throw new ArgumentException($"--bits lists {b.Key} twice");
        foreach (var g in options.Granularities.GroupBy(g => g).Where(g => g.Count() > 1)) throw new ArgumentException($"--granularity lists {g.Key.ToString().ToLowerInvariant()} twice");
        return [null, .. options.Bits.SelectMany(b => options.Granularities.Select(g => new LogitQuantization(b, g)))];
    }
}
