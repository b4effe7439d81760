using System.Globalization;
using System.Text;
using static DiffTransformer.Evaluation.LmEvalResult;

namespace DiffTransformer.Evaluation;

/// <summary>The result of <c>eval icl</c>: the examples, the episodes' shape and one score per model.</summary>
public sealed record IclEvalResult(string Source, IReadOnlyList<string> Classes, int Ways, double Chance, int TrainExamples, int TestExamples, int MaxShots,
    int Sets, int Queries, int OrderShots, int OrderSets, int Orders, IReadOnlyList<IclModelScore> Models)
{
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"Examples: {Source}: {Classes.Count} classes ({string.Join(", ", Classes)}), {TrainExamples:N0} for demonstrations and {TestExamples:N0} held out as queries. " +
                      $"Episodes of {Ways} classes under label names drawn per episode; a query's class is the name of highest log-probability after " +
                      $"\"{{text}} →\". Chance {F(Chance, 3)}.").AppendLine();
        sb.AppendLine($"## Accuracy against the number of demonstrations").AppendLine();
        sb.AppendLine($"{Sets} demonstration sets × {Queries} queries per point; the demonstrations are balanced over the classes and nested in the shots, " +
                      "the queries the same at every number.").AppendLine();
        var shots = Models[0].Shots.Select(p => p.Shots).ToList();
        sb.Append(EvalReport.Table(["shots", .. Models.Select(m => m.Model.Label), "chance"],
            shots.Select((k, i) => (IReadOnlyList<string>)[k.ToString(inv), .. Models.Select(m => F(m.Shots[i].Accuracy, 3)), F(Chance, 3)])));
        if (OrderSets > 0)
        {
            sb.AppendLine().AppendLine("## Order robustness").AppendLine();
            sb.AppendLine($"{OrderSets} fixed sets of {OrderShots} demonstrations, each in {Orders} random orders and {Orders} class-grouped orders " +
                          $"(classes in a random order, each class's demonstrations together), {Queries} queries each; per set the mean, standard deviation and " +
                          "best − worst accuracy over its orders, then the mean over the sets.").AppendLine();
            sb.Append(EvalReport.Table(["model", "random: mean", "std", "best − worst", "grouped: mean", "std", "best − worst"],
                Models.Select(m => (IReadOnlyList<string>)[m.Model.Label, F(m.Random!.Mean, 3), F(m.Random.Std, 3), F(m.Random.BestMinusWorst, 3),
                    F(m.Grouped!.Mean, 3), F(m.Grouped.Std, 3), F(m.Grouped.BestMinusWorst, 3)])));
        }
        sb.AppendLine().AppendLine("Paper (Figure 6, many-shot up to 64K tokens, 3B models): DIFF's accuracy above the Transformer's by 18.0 (TREC), 21.6 (TREC-fine), " +
                                   "10.4 (Banking-77) and 5.2 (Clinic-150) points on average. Figure 7 (best − worst over orders, Transformer → DIFF): TREC random " +
                                   "19.0 → 4.0, arranged by class 56.7 → 13.4; TREC-fine 24 → 9, Banking-77 13 → 9, Clinic-150 12 → 6 (Figure 11).");
        return sb.ToString();
    }
}
