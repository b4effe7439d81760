using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>What <c>eval quant</c> measures: <c>eval lm</c> and <c>eval needle</c> at every bit width and granularity, and at full precision.</summary>
public sealed record QuantEvalOptions
{
    /// <summary>The held-out text and windows of the loss (<see cref="LmEval"/>).</summary>
    public required LmEvalOptions Text { get; init; }

    /// <summary>The needle grid (<see cref="NeedleEval"/>).</summary>
    public NeedleEvalOptions Needle { get; init; } = new();

    /// <summary>Bit widths of the logits, each in [2, 24] (<see cref="LogitQuantization"/>).</summary>
    public IReadOnlyList<int> Bits { get; init; } = [16, 8, 6, 4];

    /// <summary>Scale groups: per-tensor (a sequence's maps of a layer) and per-head (one map).</summary>
    public IReadOnlyList<QuantGranularity> Granularities { get; init; } = [QuantGranularity.Tensor, QuantGranularity.Head];
}
