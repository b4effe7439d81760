using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Every suite of <c>difft eval</c>, by name, with its plots and its headline figures: the few numbers per model that
/// a study averages over seeds and sets beside the paper's (docs/EVALUATION.md defines each; docs/STUDY.md lists them).
/// </summary>
public static class EvalSuites
{
    public static EvalSuite Lm { get; } = EvalSuite.Of("lm", HeldOut, LmEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m => Figures(("loss", m.Loss), ("perplexity", m.Perplexity), ("bits_per_byte", m.BitsPerByte))).ToList(),
        (_, _) => { });

    public static EvalSuite Needle { get; } = EvalSuite.Of("needle", _ => new NeedleEvalOptions(), NeedleEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m =>
        {
            var f = new SortedDictionary<string, double>(StringComparer.Ordinal)
            {
                ["accuracy"] = m.Accuracy,
                ["unsupported"] = m.ClassRates.GetValueOrDefault(Tasks.Needle.AnswerClass.Unsupported),
            };
            foreach (var (setting, acc) in m.AccuracyBySetting) f[$"accuracy_{setting.Replace('/', '_')}"] = acc;
            return (IReadOnlyDictionary<string, double>)f;
        }).ToList(),
        (dir, r) =>
        {
            for (int i = 0; i < r.Models.Count; i++)
                NeedlePlot.Write(Path.Combine(dir, $"needle-{i + 1}-{ArchitectureNames.Name(r.Models[i].Model.Arch)}.png"), r.Models[i], r.Lengths, r.Depths);
        });

    public static EvalSuite Attention { get; } = EvalSuite.Of("attention", _ => new NeedleEvalOptions(), AttentionEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m =>
        {
            // the mean over layers dilutes the layer that retrieves; the best layer is where the paper's picture shows
            int best = m.AnswerByLayer.Count == 0 ? -1 : m.AnswerByLayer.Select((a, i) => (a, i)).MaxBy(x => x.a).i;
            return Figures(("answer", m.Answer), ("noise", m.Noise),
                ("answer_best_layer", best < 0 ? double.NaN : m.AnswerByLayer[best]), ("noise_best_layer", best < 0 ? double.NaN : m.NoiseByLayer[best]));
        }).ToList(),
        (dir, r) => AllocationPlot.Write(Path.Combine(dir, "attention-by-depth.png"), r));

    public static EvalSuite Faithfulness { get; } = EvalSuite.Of("faithfulness", data => new FaithfulnessEvalOptions { Data = data }, FaithfulnessEval.Run,
        r => r.ToMarkdown(),
        r => r.Models.Select(m => Figures(("faithful", m.Faithful), ("hallucinated", m.Hallucinated), ("closed_book", m.ClosedBookAccuracy),
            ("open_book", m.OpenBookAccuracy), ("open_book_unsupported", m.OpenBookUnsupported))).ToList(),
        (_, _) => { });

    public static EvalSuite Outliers { get; } = EvalSuite.Of("outliers", HeldOut, OutlierEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m => Figures(("logits_top1", m.Logits.Top1), ("logits_median", m.Logits.Median), ("logits_top1_to_median", m.Logits.TopToMedian),
            ("logits_kurtosis", m.Logits.Kurtosis), ("hidden_top1", m.Hidden.Top1), ("hidden_median", m.Hidden.Median),
            ("hidden_top1_to_median", m.Hidden.TopToMedian), ("hidden_kurtosis", m.Hidden.Kurtosis))).ToList(),
        (dir, r) =>
        {
            for (int i = 0; i < r.Models.Count; i++) OutlierPlot.Write(Path.Combine(dir, $"outliers-{i + 1}-{ArchitectureNames.Name(r.Models[i].Model.Arch)}.png"), r.Models[i]);
        });

    public static EvalSuite Quant { get; } = EvalSuite.Of("quant", data => new QuantEvalOptions { Text = HeldOut(data) }, QuantEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m =>
        {
            var f = new SortedDictionary<string, double>(StringComparer.Ordinal)
            {
                ["loss_full"] = m.Full.Loss,
                ["needle_full"] = m.Full.NeedleAccuracy,
            };
            foreach (var p in m.Points.Skip(1))
            {
                string at = $"{p.Bits}bit_{p.Granularity.ToString()!.ToLowerInvariant()}";
                f[$"loss_increase_{at}"] = p.Loss - m.Full.Loss;
                f[$"needle_{at}"] = p.NeedleAccuracy;
            }
            return (IReadOnlyDictionary<string, double>)f;
        }).ToList(),
        (dir, r) =>
        {
            QuantPlot.Write(Path.Combine(dir, "quant-loss.png"), r, "held-out loss (nats/token)", p => p.Loss);
            QuantPlot.Write(Path.Combine(dir, "quant-needle.png"), r, "needle accuracy", p => p.NeedleAccuracy);
        });

    public static EvalSuite Icl { get; } = EvalSuite.Of("icl", _ => new IclEvalOptions(), IclEval.Run, r => r.ToMarkdown(),
        r => r.Models.Select(m =>
        {
            var f = new SortedDictionary<string, double>(StringComparer.Ordinal) { ["chance"] = r.Chance };
            foreach (var p in m.Shots) f[$"accuracy_{p.Shots.ToString(CultureInfo.InvariantCulture)}shot"] = p.Accuracy;
            if (m.Shots.Count > 0) f["accuracy_most_shots"] = m.Shots[^1].Accuracy;
            if (m.Random is { } random)
            {
                f["random_order_std"] = random.Std;
                f["random_order_best_minus_worst"] = random.BestMinusWorst;
            }
            if (m.Grouped is { } grouped)
            {
                f["grouped_order_mean"] = grouped.Mean;
                f["grouped_order_best_minus_worst"] = grouped.BestMinusWorst;
            }
            return (IReadOnlyDictionary<string, double>)f;
        }).ToList(),
        (dir, r) =>
        {
            IclPlot.WriteShots(Path.Combine(dir, "icl-shots.png"), r);
            if (r.OrderSets > 0) IclPlot.WriteOrders(Path.Combine(dir, "icl-orders.png"), r);
        });

    /// <summary>Every suite, in the order of <c>difft eval --help</c>.</summary>
    public static IReadOnlyList<EvalSuite> All { get; } = [Lm, Needle, Attention, Faithfulness, Outliers, Quant, Icl];

    /// <summary>The suite called <paramref name="name"/>; the message lists the known ones.</summary>
    public static EvalSuite Get(string name) => All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"unknown evaluation suite '{name}' (known: {string.Join(", ", All.Select(s => s.Name))})");

    // lm, outliers and quant read the held-out split of the dataset the models were trained on unless told otherwise
    private static LmEvalOptions HeldOut(string? data) => new() { Inputs = data is null ? [] : [data] };

    private static IReadOnlyDictionary<string, double> Figures(params (string Name, double Value)[] figures) =>
        new SortedDictionary<string, double>(figures.ToDictionary(f => f.Name, f => f.Value), StringComparer.Ordinal);
}
