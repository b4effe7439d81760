using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>
/// One model's answers to <c>eval faithfulness</c> and its rates (question-weighted over the cells that fit):
/// faithful and hallucinated on counterfactual contexts, closed-book accuracy (was the fact learnt?), and open-book
/// accuracy and unsupported rate (retrieval without a competing memory, as in eval needle).
/// </summary>
public sealed record FaithfulnessModelScore(EvalModelInfo Model, IReadOnlyList<FaithfulnessCell> Cells, IReadOnlyList<FaithfulnessAnswer> Answers)
{
    /// <summary>Counterfactual questions answered with the context's value.</summary>
    public double Faithful => Rate(FactProbe.Counterfactual, FactAnswerClass.Context);

    /// <summary>Counterfactual questions answered with the memorised value, against the context.</summary>
    public double Hallucinated => Rate(FactProbe.Counterfactual, FactAnswerClass.Memory);

    /// <summary>Closed-book questions answered with the memorised value.</summary>
    public double ClosedBookAccuracy => Rate(FactProbe.ClosedBook, FactAnswerClass.Memory);

    /// <summary>Open-book questions (ordinary keys) answered with the context's value.</summary>
    public double OpenBookAccuracy => Rate(FactProbe.OpenBook, FactAnswerClass.Context);

    /// <summary>Open-book questions answered with a number found neither in the context nor in memory (eval needle's unsupported).</summary>
    public double OpenBookUnsupported => Rate(FactProbe.OpenBook, FactAnswerClass.Unsupported);

    /// <summary>Share of one probe's questions in each class.</summary>
    public IReadOnlyDictionary<FactAnswerClass, double> ClassRates(FactProbe probe) =>
        Enum.GetValues<FactAnswerClass>().ToDictionary(k => k, k => Rate(probe, k));

    /// <summary>Share of <paramref name="probe"/>'s questions in class <paramref name="k"/>, optionally at one length only.</summary>
    public double Rate(FactProbe probe, FactAnswerClass k, int? length = null)
    {
        var cells = Cells.Where(c => c.Fits && c.Probe == probe && (length is null || c.Length == length)).ToList();
        int n = cells.Sum(c => c.Questions);
        return n == 0 ? double.NaN : (double)cells.Sum(c => c.Classes.GetValueOrDefault(k)) / n;
    }
}
