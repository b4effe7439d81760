using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>One cell of the grid (prompt length × N/R × depth): its questions by answer class. A cell whose needles do not fit the length is marked and left empty.</summary>
public sealed record NeedleCell(int Length, string Setting, double Depth, bool Fits, IReadOnlyDictionary<AnswerClass, int> Classes)
{
    public int Questions => Classes.Values.Sum();
    public double Accuracy => Questions == 0 ? double.NaN : (double)Classes.GetValueOrDefault(AnswerClass.Correct) / Questions;
}
