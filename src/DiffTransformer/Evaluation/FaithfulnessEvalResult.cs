using System.Globalization;
using System.Text;
using DiffTransformer.Tasks.Needle;
using static DiffTransformer.Evaluation.LmEvalResult;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval faithfulness</c>: the task's facts, the grid's axes and one score per model.</summary>
public sealed record FaithfulnessEvalResult(string Task, IReadOnlyList<NeedleFact> Facts, string Haystack, IReadOnlyList<int> Lengths,
    IReadOnlyList<int> Distractors, int Samples, IReadOnlyList<FaithfulnessModelScore> Models)
{
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"Facts task: {Task} ({Facts.Count} fixed facts); haystack: {Haystack}. Prompt lengths {string.Join(", ", Lengths)} tokens; " +
                      $"{string.Join(" or ", Distractors)} distractor needles; {Samples} documents per cell; greedy decoding.").AppendLine();
        sb.AppendLine("Counterfactual: the context states a fixed fact with another value — **faithful** answers follow the context, " +
                      "**hallucinated** ones give the memorised value. Closed book: the fact is not stated (memory is the right answer). " +
                      "Open book: an ordinary needle, as in eval needle.").AppendLine();
        sb.Append(EvalReport.Table(["model", "faithful", "hallucinated", "other (counterfactual)", "closed-book accuracy", "open-book accuracy", "open-book unsupported"],
            Models.Select(m => (IReadOnlyList<string>)[m.Model.Label, F(m.Faithful, 3), F(m.Hallucinated, 3), F(1 - m.Faithful - m.Hallucinated, 3),
                F(m.ClosedBookAccuracy, 3), F(m.OpenBookAccuracy, 3), F(m.OpenBookUnsupported, 3)])));
        sb.AppendLine().AppendLine("## Counterfactual answers by class").AppendLine();
        sb.Append(EvalReport.Table(["model", .. Enum.GetValues<FactAnswerClass>().Select(ClassName)],
            Models.Select(m => (IReadOnlyList<string>)[m.Model.Label, .. Enum.GetValues<FactAnswerClass>().Select(k => F(m.ClassRates(FactProbe.Counterfactual)[k], 3))])));
        sb.AppendLine().AppendLine("## Faithful / hallucinated by prompt length").AppendLine();
        sb.Append(EvalReport.Table(["length", .. Models.Select(m => m.Model.Label)],
            Lengths.Select(l => (IReadOnlyList<string>)[l.ToString(inv), .. Models.Select(m =>
                $"{F(m.Rate(FactProbe.Counterfactual, FactAnswerClass.Context, l), 2)} / {F(m.Rate(FactProbe.Counterfactual, FactAnswerClass.Memory, l), 2)}")])));
        var unfit = Models.SelectMany(m => m.Cells).Where(c => !c.Fits).Select(c => $"{c.Distractors} distractors at {c.Length}").Distinct().ToList();
        if (unfit.Count > 0) sb.AppendLine().AppendLine($"Cells whose needles do not fit the prompt length (n/a, not counted): {string.Join(", ", unfit)}.");
        return sb.ToString();
    }

    private static string ClassName(FactAnswerClass k) => k switch
    {
        FactAnswerClass.Context => "context (faithful)",
        FactAnswerClass.Memory => "memory (hallucinated)",
        FactAnswerClass.Misattributed => "misattributed",
        FactAnswerClass.FromHaystack => "from haystack",
        FactAnswerClass.Unsupported => "unsupported",
        _ => "no number",
    };
}
