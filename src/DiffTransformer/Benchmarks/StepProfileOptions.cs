using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="StepProfile.Run"/> times.</summary>
public sealed record StepProfileOptions
{
    /// <summary>The model shape (its architecture is ignored: both are profiled).</summary>
    public required ModelConfig Config { get; init; }

    public int Batch { get; init; } = 4;
    public int SeqLen { get; init; } = 1024;
    public int Repeats { get; init; } = 5;
    public long Seed { get; init; }
}
