using System.Globalization;
using System.Text;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval lm</c>: one score per model, side by side.</summary>
public sealed record LmEvalResult(string Source, int Documents, IReadOnlyList<LmModelScore> Models)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Held-out text: {Source}, {Documents:N0} documents.").AppendLine();
        sb.Append(EvalReport.Table(
            ["model", "tokens", "bytes", "loss (nats/token)", "perplexity", "bits/byte", "window / stride", "tokens/s"],
            Models.Select(m => (IReadOnlyList<string>)
            [
                m.Model.Label, m.Tokens.ToString("N0", CultureInfo.InvariantCulture), m.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                F(m.Loss, 4), F(m.Perplexity, 3), F(m.BitsPerByte, 4), $"{m.Context} / {m.Stride}", F(m.TokensPerSecond, 0),
            ])));
        return sb.ToString();
    }

    internal static string F(double v, int digits) => double.IsFinite(v) ? v.ToString("N" + digits, CultureInfo.InvariantCulture) : "n/a";
}
