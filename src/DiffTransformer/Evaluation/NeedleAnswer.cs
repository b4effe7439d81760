using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>One question of the grid and what the model said.</summary>
public sealed record NeedleAnswer(int Length, string Setting, double Depth, int Sample, string Key, string Expected, string Generated, AnswerClass Class);
