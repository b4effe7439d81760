namespace DiffTransformer.Inference;

/// <summary>
/// How the next token is chosen from the logits. Order of application: temperature, then top-k, then top-p
/// (on the temperature-scaled distribution), then a draw from what is left, renormalised.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Divides the logits; 0 means greedy (the arg-max, lowest id on ties). Must be finite and ≥ 0.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability mass is ≥ p; 1 keeps all. In (0, 1].</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Seed of the draw; the same seed, options and model give the same tokens. Null: a random seed (reported in the result).</summary>
    public long? Seed { get; init; }

    /// <summary>Greedy decoding: no randomness at all.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public bool IsGreedy => Temperature == 0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the value at fault.</summary>
    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentException($"temperature must be a finite number ≥ 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"top-k must be ≥ 0 (0 = off), got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        return this;
    }
}
