namespace DiffTransformer.Evaluation;

/// <summary>One model's attention allocation: every prompt, and the means per layer, over layers and by depth.</summary>
public sealed record AttentionModelScore(EvalModelInfo Model, IReadOnlyList<AttentionShare> Prompts)
{
    public int Layers => Prompts.Count == 0 ? 0 : Prompts[0].Answer.Count;

    /// <summary>Mean share on the answer per layer.</summary>
    public IReadOnlyList<double> AnswerByLayer => Enumerable.Range(0, Layers).Select(l => Prompts.Average(p => p.Answer[l])).ToList();

    /// <summary>Mean share on the haystack per layer.</summary>
    public IReadOnlyList<double> NoiseByLayer => Enumerable.Range(0, Layers).Select(l => Prompts.Average(p => p.Noise[l])).ToList();

    /// <summary>Mean over prompts and layers.</summary>
    public double Answer => AnswerByLayer.DefaultIfEmpty(double.NaN).Average();

    public double Noise => NoiseByLayer.DefaultIfEmpty(double.NaN).Average();

    /// <summary>(answer, noise) over layers, per depth.</summary>
    public IReadOnlyDictionary<double, (double Answer, double Noise)> ByDepth => Prompts.GroupBy(p => p.Depth).OrderBy(g => g.Key)
        .ToDictionary(g => g.Key, g => (g.Average(p => p.Answer.Average()), g.Average(p => p.Noise.Average())));
}
