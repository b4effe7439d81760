using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>One question of <c>eval faithfulness</c> and what the model said.</summary>
public sealed record FaithfulnessAnswer(int Length, int Distractors, FactProbe Probe, int Sample, string Key, string? ContextValue, string? MemorisedValue,
    string Generated, FactAnswerClass Class);
