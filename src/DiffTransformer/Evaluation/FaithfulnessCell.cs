using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>One cell of <c>eval faithfulness</c> (length × distractors × probe): its questions by answer class; empty when the needles do not fit.</summary>
public sealed record FaithfulnessCell(int Length, int Distractors, FactProbe Probe, bool Fits, IReadOnlyDictionary<FactAnswerClass, int> Classes)
{
    public int Questions => Classes.Values.Sum();
}
