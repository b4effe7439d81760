namespace DiffTransformer.Evaluation;

/// <summary>
/// Where the answering position's attention goes in one prompt, per layer and averaged over heads (docs/EVALUATION.md,
/// "eval attention"). <see cref="Answer"/>, <see cref="Noise"/> and <see cref="Rest"/> (end-of-text, the other needle
/// tokens, the question) are shares of the row's absolute mass Σ|w|: in [0, 1] and summing to 1 for either architecture.
/// The signed shares divide the plain sums by the row sum (1 for softmax, 1 − λ for DIFF's A1 − λ·A2); they are NaN where
/// that sum is 0. <see cref="Lambda"/> is each layer's λ (empty for the Transformer).
/// </summary>
public sealed record AttentionShare(int Length, string Setting, double Depth, int Sample, IReadOnlyList<double> Answer, IReadOnlyList<double> Noise,
    IReadOnlyList<double> Rest, IReadOnlyList<double> SignedAnswer, IReadOnlyList<double> SignedNoise, IReadOnlyList<double> Lambda);
