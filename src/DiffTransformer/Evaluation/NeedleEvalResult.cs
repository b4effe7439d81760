using System.Globalization;
using System.Text;
using DiffTransformer.Tasks.Needle;
using static DiffTransformer.Evaluation.LmEvalResult;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval needle</c>: the grid's axes and one score per model.</summary>
public sealed record NeedleEvalResult(string Haystack, IReadOnlyList<int> Lengths, IReadOnlyList<string> Settings, IReadOnlyList<double> Depths,
    int Samples, IReadOnlyList<NeedleModelScore> Models)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Haystack: {Haystack}. Prompt lengths {string.Join(", ", Lengths)} tokens; depths {string.Join(", ", Depths.Select(d => d.ToString("P0", CultureInfo.InvariantCulture)))}; " +
                      $"{Samples} documents per cell; greedy decoding, exact match of the number.").AppendLine();
        sb.AppendLine("## Accuracy by N/R (N needles, R asked)").AppendLine();
        sb.Append(EvalReport.Table(["N/R", .. Models.Select(m => m.Model.Label)],
            Settings.Select(s => (IReadOnlyList<string>)[s, .. Models.Select(m => F(m.AccuracyBySetting.GetValueOrDefault(s, double.NaN), 3))])
                .Append(["all", .. Models.Select(m => F(m.Accuracy, 3))])));
        sb.AppendLine().AppendLine("## Answers by class (share of all questions)").AppendLine();
        sb.Append(EvalReport.Table(["model", "correct", "misattributed", "from haystack", "unsupported", "no number"],
            Models.Select(m => (IReadOnlyList<string>)[m.Model.Label, .. Enum.GetValues<AnswerClass>().Select(k => F(m.ClassRates[k], 3))])));
        foreach (var m in Models)
        {
            sb.AppendLine().AppendLine($"## {m.Model.Label}: accuracy by depth and prompt length (over the N/R settings)").AppendLine();
            sb.Append(EvalReport.Table(["depth", .. Lengths.Select(l => l.ToString(CultureInfo.InvariantCulture))],
                Depths.Select(d => (IReadOnlyList<string>)[d.ToString("P0", CultureInfo.InvariantCulture), .. Lengths.Select(l => F(m.AccuracyAt(l, d), 2))])));
        }
        var unfit = Models.SelectMany(m => m.Cells).Where(c => !c.Fits).Select(c => $"{c.Setting} at {c.Length}").Distinct().ToList();
        if (unfit.Count > 0) sb.AppendLine().AppendLine($"Cells whose needles do not fit the prompt length (n/a, not counted): {string.Join(", ", unfit)}.");
        return sb.ToString();
    }
}
