namespace DiffTransformer.Model;

/// <summary>Which attention logits share one absmax scale when they are quantised (<see cref="LogitQuantization"/>).</summary>
public enum QuantGranularity
{
    /// <summary>One scale per layer and sequence: all 2H maps of one batch row, (2H, T, S), in one forward.</summary>
    Tensor,
    /// <summary>One scale per layer, sequence and map: each of the 2H softmax maps (T, S) of one batch row (DIFF: Q1K1ᵀ and Q2K2ᵀ of a head apart).</summary>
    Head,
}
