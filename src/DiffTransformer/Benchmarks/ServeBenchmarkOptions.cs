using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>What <see cref="ServeBenchmark.Run"/> measures: concurrent streaming clients against the server, on loopback.</summary>
public sealed record ServeBenchmarkOptions
{
    /// <summary>The model shape (weights are random: speed does not depend on them).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>Concurrent clients per measurement; each is compared with one client.</summary>
    public IReadOnlyList<int> Clients { get; init; } = [1, 4, 16];

    /// <summary>Streaming requests each client sends, one after another.</summary>
    public int RequestsPerClient { get; init; } = 4;

    /// <summary>Prompt length in tokens.</summary>
    public int PromptTokens { get; init; } = 32;

    /// <summary>New tokens per request (end-of-text does not end a request early).</summary>
    public int MaxTokens { get; init; } = 64;

    /// <summary>Rounds; in each, every client count runs once, in rotating order; the tables show medians.</summary>
    public int Repeats { get; init; } = 1;

    /// <summary>No client starts a new request after this long into a measurement (those running finish).</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromMinutes(2);

    public AttentionKernel Kernel { get; init; } = AttentionKernel.Blocked;

    public long Seed { get; init; }
}
