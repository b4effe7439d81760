using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>One model over the grid: every cell, every answer, and the averages (question-weighted, over cells that fit).</summary>
public sealed record NeedleModelScore(EvalModelInfo Model, IReadOnlyList<NeedleCell> Cells, IReadOnlyList<NeedleAnswer> Answers)
{
    /// <summary>Accuracy over every question of the grid.</summary>
    public double Accuracy => Rate(Cells, AnswerClass.Correct);

    /// <summary>Accuracy per N/R setting, in the grid's order.</summary>
    public IReadOnlyDictionary<string, double> AccuracyBySetting =>
        Cells.GroupBy(c => c.Setting).ToDictionary(g => g.Key, g => Rate(g, AnswerClass.Correct));

    /// <summary>Share of all questions in each answer class.</summary>
    public IReadOnlyDictionary<AnswerClass, double> ClassRates =>
        Enum.GetValues<AnswerClass>().ToDictionary(k => k, k => Rate(Cells, k));

    /// <summary>Accuracy per (length, depth), over the settings.</summary>
    public double AccuracyAt(int length, double depth) => Rate(Cells.Where(c => c.Length == length && c.Depth == depth), AnswerClass.Correct);

    internal static double Rate(IEnumerable<NeedleCell> cells, AnswerClass k)
    {
        var list = cells.Where(c => c.Fits).ToList();
        int n = list.Sum(c => c.Questions);
        return n == 0 ? double.NaN : (double)list.Sum(c => c.Classes.GetValueOrDefault(k)) / n;
    }
}
