using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="DecodeBenchmark.Run"/> measures.</summary>
public sealed record DecodeBenchmarkOptions
{
    /// <summary>The model shape (weights are random: speed does not depend on them).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>Contexts at which cached decoding is timed: the timed tokens end at this many positions.</summary>
    public IReadOnlyList<int> Contexts { get; init; } = [128, 1024, 2048];

    /// <summary>Tokens decoded (and timed) per cached measurement.</summary>
    public int Tokens { get; init; } = 32;

    /// <summary>Contexts at which decoding without a cache (a full forward over the whole sequence per token) is timed.</summary>
    public IReadOnlyList<int> RecomputeContexts { get; init; } = [1024];

    /// <summary>Tokens decoded per recompute measurement (each costs a full forward).</summary>
    public int RecomputeTokens { get; init; } = 4;

    /// <summary>Rounds; in each, every measurement runs once, in turn, so that a busy machine slows all alike.</summary>
    public int Repeats { get; init; } = 3;

    public AttentionKernel Kernel { get; init; } = AttentionKernel.Fused;

    public long Seed { get; init; }
}
