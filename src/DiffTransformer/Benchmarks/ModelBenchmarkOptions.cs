using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="ModelBenchmark.Run"/> measures: the whole model, DIFF and baseline, per attention core.</summary>
public sealed record ModelBenchmarkOptions
{
    /// <summary>The model shape; its <see cref="ModelConfig.Arch"/> is ignored (both architectures run).</summary>
    public required ModelConfig Config { get; init; }

    public int Batch { get; init; } = 4;
    public int SeqLen { get; init; } = 1024;
    public IReadOnlyList<Architecture> Archs { get; init; } = [Architecture.Diff, Architecture.Transformer];
    public IReadOnlyList<AttentionKernel> Kernels { get; init; } = [AttentionKernel.Fused, AttentionKernel.Blocked];

    /// <summary>Rounds; each runs every measurement once, in rotating order, and the tables give medians.</summary>
    public int Repeats { get; init; } = 3;

    public long Seed { get; init; }
}
