using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>One model's figures at full precision (the first point) and at every bit width × granularity.</summary>
public sealed record QuantModelScore(EvalModelInfo Model, IReadOnlyList<QuantPoint> Points)
{
    public QuantPoint Full => Points[0];

    /// <summary>The point at <paramref name="bits"/> and <paramref name="granularity"/>.</summary>
    public QuantPoint At(int bits, QuantGranularity granularity) => Points.Single(p => p.Bits == bits && p.Granularity == granularity);
}
