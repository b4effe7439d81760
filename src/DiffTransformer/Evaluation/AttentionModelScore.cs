namespace DiffTransformer.Evaluation;

/// <summary>One model's attention allocation: every prompt, and the means per layer, over layers and by depth.</summary>
public sealed record AttentionModelScore(EvalModelInfo Model, IReadOnlyList<AttentionShare> Prompts)
{
    public int Layers => Prompts.Count == 0 ? 0 : Prompts[0].Answer.Count;

    /// <summary>Mean share of the absolute mass on the answer, per layer.</summary>
    public IReadOnlyList<double> AnswerByLayer => ByLayer(p => p.Answer);

    /// <summary>Mean share of the absolute mass on the haystack, per layer.</summary>
    public IReadOnlyList<double> NoiseByLayer => ByLayer(p => p.Noise);

    /// <summary>Mean signed share (÷ the row sum, 1 − λ for DIFF) on the answer, per layer.</summary>
    public IReadOnlyList<double> SignedAnswerByLayer => ByLayer(p => p.SignedAnswer);

    /// <summary>Mean signed share on the haystack, per layer.</summary>
    public IReadOnlyList<double> SignedNoiseByLayer => ByLayer(p => p.SignedNoise);

    /// <summary>Each layer's λ (the same in every prompt; empty for the Transformer).</summary>
    public IReadOnlyList<double> LambdaByLayer => Prompts.Count == 0 ? [] : Prompts[0].Lambda;

    /// <summary>Mean over prompts and layers.</summary>
    public double Answer => AnswerByLayer.DefaultIfEmpty(double.NaN).Average();

    public double Noise => NoiseByLayer.DefaultIfEmpty(double.NaN).Average();

    /// <summary>(answer, noise) over layers, per depth.</summary>
    public IReadOnlyDictionary<double, (double Answer, double Noise)> ByDepth => Prompts.GroupBy(p => p.Depth).OrderBy(g => g.Key)
        .ToDictionary(g => g.Key, g => (g.Average(p => p.Answer.Average()), g.Average(p => p.Noise.Average())));

    private List<double> ByLayer(Func<AttentionShare, IReadOnlyList<double>> figure) =>
        Enumerable.Range(0, Layers).Select(l => Prompts.Average(p => figure(p)[l])).ToList();
}
