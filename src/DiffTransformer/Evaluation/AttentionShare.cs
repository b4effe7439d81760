namespace DiffTransformer.Evaluation;

/// <summary>
/// Where the answering position's attention goes in one prompt: per layer, the share on the asked needle's value and the
/// share on the haystack, and the rest (end-of-text, the other needle tokens, the question), averaged over heads (docs/EVALUATION.md, "eval attention").
/// </summary>
public sealed record AttentionShare(int Length, string Setting, double Depth, int Sample, IReadOnlyList<double> Answer, IReadOnlyList<double> Noise, IReadOnlyList<double> Rest);
