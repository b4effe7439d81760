using System.Globalization;
using System.Text;
using DiffTransformer.Model;
using static DiffTransformer.Evaluation.LmEvalResult;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval quant</c>: per model, the loss and needle figures at full precision and at every bit width × granularity.</summary>
public sealed record QuantEvalResult(string Text, int Documents, string Haystack, IReadOnlyList<int> Lengths, IReadOnlyList<int> Bits,
    IReadOnlyList<QuantGranularity> Granularities, IReadOnlyList<QuantModelScore> Models)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Attention logits q·kᵀ/√d quantised before the softmax: symmetric, absmax scale, round to nearest; per-tensor = one scale " +
                      $"for a sequence's maps in a layer, per-head = one per map. Loss on {Text} ({Documents:N0} documents); needles in {Haystack}, " +
                      $"prompt lengths {string.Join(", ", Lengths)}.");
        Section(sb, "Held-out loss (nats/token)", p => F(p.Loss, 4), withDelta: p => p.Loss);
        Section(sb, "Needle accuracy", p => F(p.NeedleAccuracy, 3));
        Section(sb, "Needle answers unsupported by the context", p => F(p.NeedleUnsupported, 3));
        sb.AppendLine().AppendLine("Paper (Figure 8, HellaSwag, 3B models): DIFF keeps its accuracy down to 6 bits; at 4 bits DIFF is about 25 points above the Transformer.");
        return sb.ToString();
    }

    private void Section(StringBuilder sb, string title, Func<QuantPoint, string> figure, Func<QuantPoint, double>? withDelta = null)
    {
        sb.AppendLine().AppendLine($"## {title}").AppendLine();
        var rows = Models.SelectMany(m => Granularities.Select(g => (IReadOnlyList<string>)
        [
            $"{m.Model.Label}, per-{g.ToString().ToLowerInvariant()}", figure(m.Full),
            .. Bits.Select(b => figure(m.At(b, g)) + (withDelta is null ? "" : $" ({Delta(withDelta(m.At(b, g)) - withDelta(m.Full))})")),
        ]));
        sb.Append(EvalReport.Table(["model", "full", .. Bits.Select(b => $"{b} bits")], rows));
    }

    private static string Delta(double d) => d.ToString("+0.0E+00;-0.0E+00;0", CultureInfo.InvariantCulture);
}
