using System.Globalization;
using System.Text;
using static DiffTransformer.Evaluation.LmEvalResult;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval attention</c>.</summary>
public sealed record AttentionEvalResult(string Haystack, IReadOnlyList<int> Lengths, IReadOnlyList<string> Settings, IReadOnlyList<double> Depths,
    int Samples, IReadOnlyList<AttentionModelScore> Models)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Needle documents as in eval needle (haystack: {Haystack}; lengths {string.Join(", ", Lengths)}; N/R {string.Join(", ", Settings)}; " +
                      $"{Samples} documents per cell). From the position that produces the answer's first digit: the share of attention on the asked " +
                      "needle's value (answer) and on the haystack (noise), as shares of the row's absolute mass Σ|w|, mean over heads, layers " +
                      "and prompts. DIFF: the differential map A1 − λ·A2; Transformer: the softmax map (where Σ|w| = 1).").AppendLine();
        sb.Append(EvalReport.Table(["model", "answer", "noise", "prompts"],
            Models.Select(m => (IReadOnlyList<string>)[m.Model.Label, F(m.Answer, 3), F(m.Noise, 3), m.Prompts.Count.ToString(CultureInfo.InvariantCulture)])));
        sb.AppendLine().AppendLine("## By layer (answer / noise)").AppendLine();
        int layers = Models.Max(m => m.Layers);
        sb.Append(EvalReport.Table(["layer", .. Models.Select(m => m.Model.Label)],
            Enumerable.Range(0, layers).Select(l => (IReadOnlyList<string>)[l.ToString(CultureInfo.InvariantCulture),
                .. Models.Select(m => l < m.Layers ? $"{F(m.AnswerByLayer[l], 3)} / {F(m.NoiseByLayer[l], 3)}" : "")])));
        sb.AppendLine().AppendLine("## By answer depth (answer / noise)").AppendLine();
        sb.Append(EvalReport.Table(["depth", .. Models.Select(m => m.Model.Label)],
            Depths.Select(d => (IReadOnlyList<string>)[d.ToString("P0", CultureInfo.InvariantCulture),
                .. Models.Select(m => m.ByDepth.TryGetValue(d, out var v) ? $"{F(v.Answer, 3)} / {F(v.Noise, 3)}" : "n/a")])));
        var diffs = Models.Where(m => m.LambdaByLayer.Count > 0).ToList();
        if (diffs.Count > 0)
        {
            sb.AppendLine().AppendLine("## DIFF: λ and the signed shares by layer (answer / noise, the plain sums ÷ the row sum 1 − λ)").AppendLine();
            sb.Append(EvalReport.Table(["layer", .. diffs.Select(m => m.Model.Label)],
                Enumerable.Range(0, diffs.Max(m => m.Layers)).Select(l => (IReadOnlyList<string>)[l.ToString(CultureInfo.InvariantCulture),
                    .. diffs.Select(m => l < m.Layers ? $"λ {F(m.LambdaByLayer[l], 3)}: {F(m.SignedAnswerByLayer[l], 3)} / {F(m.SignedNoiseByLayer[l], 3)}" : "")])));
        }
        return sb.ToString();
    }
}
