using System.Globalization;
using System.Text;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval outliers</c>: one model's magnitudes after another, and the median's stated resolution.</summary>
public sealed record OutlierEvalResult(string Source, int Documents, double MedianRelativeError, IReadOnlyList<OutlierModelScore> Models)
{
    private static readonly string[] Columns = ["values", "top-1", "top-2", "top-3", "top-10", "top-100", "median", "top-1/median", "kurtosis"];

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Held-out text: {Source}, {Documents:N0} documents, fed in disjoint windows of the context. Absolute values; the median " +
                      $"within ±{MedianRelativeError:P3} (histogram bins); kurtosis of the signed values (normal: 3).").AppendLine();
        sb.AppendLine("## Attention logits |q·kᵀ/√d| (causal entries; DIFF: both maps of every head)").AppendLine();
        sb.Append(EvalReport.Table(["model", .. Columns], Models.Select(m => Row(m.Model.Label, m.Logits))));
        sb.AppendLine().AppendLine("## Hidden states |h| (each layer's output)").AppendLine();
        sb.Append(EvalReport.Table(["model", .. Columns], Models.Select(m => Row(m.Model.Label, m.Hidden))));
        sb.AppendLine().AppendLine("Paper (Table 5, 3B models, Transformer → DIFF): attention logits top-1 318.0 → 38.8, median 5.4 → 3.3; " +
                                   "hidden states top-1 3608.6 → 1688.2, median 0.6 → 1.2.");
        foreach (var m in Models)
        {
            sb.AppendLine().AppendLine($"## {m.Model.Label}: per layer ({m.Windows:N0} windows of up to {m.Context} tokens, {m.Tokens:N0} tokens)").AppendLine();
            sb.Append(EvalReport.Table(["layer", .. Columns],
                m.LogitsByLayer.Select((s, i) => Row($"{i} logits", s)).Concat(m.HiddenByLayer.Select((s, i) => Row($"{i} hidden", s)))));
        }
        return sb.ToString();
    }

    private static IReadOnlyList<string> Row(string label, MagnitudeStats s) =>
        [label, s.Count.ToString("N0", CultureInfo.InvariantCulture), G(s.Top1), G(s.Top2), G(s.Top3), G(s.Top10), G(s.Top100), G(s.Median), G(s.TopToMedian), G(s.Kurtosis)];

    /// <summary>A magnitude for a table: one decimal from 100 up, three from 1, four significant digits below.</summary>
    internal static string G(double v) =>
        !double.IsFinite(v) ? "n/a"
        : Math.Abs(v) >= 100 ? v.ToString("N1", CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 1 ? v.ToString("F3", CultureInfo.InvariantCulture)
        : v.ToString("G4", CultureInfo.InvariantCulture);
}
