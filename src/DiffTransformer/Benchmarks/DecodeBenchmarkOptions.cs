using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="DecodeBenchmark.Run"/> measures.</summary>
public sealed record DecodeBenchmarkOptions
{
    /// <summary>The model shape (weights are random: speed does not depend on them).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>Architectures to time side by side on <see cref="Config"/>'s shape; empty: its own arch alone.</summary>
    public IReadOnlyList<Architecture> Archs { get; init; } = [];

    /// <summary>Weight formats to time side by side (float32, int8); empty: the config's own.</summary>
    public IReadOnlyList<WeightFormat> Weights { get; init; } = [];

    /// <summary>Every (arch, weights) pair timed, in the order the table lists them; the first is the ratios' reference.</summary>
    public IReadOnlyList<(Architecture Arch, WeightFormat Weights)> Variants =>
        [.. (from a in Archs.Count > 0 ? Archs : [Config.Arch] from w in Weights.Count > 0 ? Weights : [Config.LinearWeights] select (a, w)).Distinct()];

    /// <summary>Contexts at which cached decoding is timed: the timed tokens end at this many positions.</summary>
    public IReadOnlyList<int> Contexts { get; init; } = [128, 1024, 2048];

    /// <summary>Tokens decoded (and timed) per cached measurement.</summary>
    public int Tokens { get; init; } = 32;

    /// <summary>Contexts at which decoding without a cache (a full forward over the whole sequence per token) is timed.</summary>
    public IReadOnlyList<int> RecomputeContexts { get; init; } = [1024];

    /// <summary>Tokens decoded per recompute measurement (each costs a full forward).</summary>
    public int RecomputeTokens { get; init; } = 4;

    /// <summary>
    /// Rounds; in each, every measurement of every variant runs once, the variants in rotating order, so that a busy
    /// machine slows all alike and the ratios are taken per round.
    /// </summary>
    public int Repeats { get; init; } = 3;

    public AttentionKernel Kernel { get; init; } = AttentionKernel.Fused;

    public long Seed { get; init; }
}
