using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="AttentionBenchmark.Run"/> measures: one attention layer, DIFF and baseline, per core and T.</summary>
public sealed record AttentionBenchmarkOptions
{
    /// <summary>E: model width (both layers).</summary>
    public int EmbedDim { get; init; } = 512;

    /// <summary>H: DIFF heads (the baseline gets 2H heads of the same width d = E / 2H).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Hkv for GQA (DIFF count; the baseline gets 2·Hkv); null: MHA.</summary>
    public int? KvHeads { get; init; }

    public IReadOnlyList<int> SeqLens { get; init; } = [512, 2048, 8192];

    /// <summary>Batch rows per call; ignored when <see cref="TokensPerCall"/> is set.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>When set, B = this / T for every T, so all lengths process the same number of tokens per call.</summary>
    public int? TokensPerCall { get; init; }

    public IReadOnlyList<Architecture> Archs { get; init; } = [Architecture.Diff, Architecture.Transformer];
    public IReadOnlyList<AttentionKernel> Kernels { get; init; } = [AttentionKernel.Explicit, AttentionKernel.Fused, AttentionKernel.Blocked];

    /// <summary>The explicit core materialises (B, 2H, T, T) maps: lengths above this are skipped for it.</summary>
    public int MaxExplicitLen { get; init; } = 2048;

    /// <summary>Rounds; each runs every measurement once, in rotating order, and the tables give medians.</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>Also time the forward alone (no_grad), besides forward+backward.</summary>
    public bool ForwardOnly { get; init; } = true;

    public long Seed { get; init; }
}
