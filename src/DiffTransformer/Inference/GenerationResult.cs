using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>The outcome of one generation.</summary>
public sealed record GenerationResult
{
    /// <summary>The generated text (without the prompt, the end-of-text token or the stop string).</summary>
    public required string Text { get; init; }

    /// <summary>Every sampled token id, including those of a matched stop string and excluding end-of-text.</summary>
    public required IReadOnlyList<int> Tokens { get; init; }

    public required FinishReason FinishReason { get; init; }

    /// <summary>The stop string that ended generation, if one did.</summary>
    public string? StopString { get; init; }

    /// <summary>Prompt tokens fed to the model (after any truncation; an empty prompt is fed as end-of-text alone).</summary>
    public required int PromptTokens { get; init; }

    /// <summary>Prompt tokens dropped from the left (<see cref="GenerationOptions.TruncatePromptFromLeft"/>).</summary>
    public int TruncatedTokens { get; init; }

    /// <summary>Forward pass over the prompt and the first draw.</summary>
    public required TimeSpan PrefillTime { get; init; }

    /// <summary>All later steps: one-token forward passes and draws (text handling and the caller's time excluded).</summary>
    public required TimeSpan DecodeTime { get; init; }

    /// <summary>Tokens produced by decode steps (all but the first, which comes from the prefill).</summary>
    public required int DecodeSteps { get; init; }

    /// <summary>The sampling seed used (the given one or the one drawn).</summary>
    public required long Seed { get; init; }

    public double PrefillTokensPerSecond => PromptTokens / Math.Max(PrefillTime.TotalSeconds, 1e-9);
    public double DecodeTokensPerSecond => DecodeSteps / Math.Max(DecodeTime.TotalSeconds, 1e-9);
}
