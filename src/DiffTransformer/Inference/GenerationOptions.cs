using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>What to generate and when to stop.</summary>
public sealed record GenerationOptions
{
    /// <summary>At most this many new tokens (≥ 1).</summary>
    public int MaxNewTokens { get; init; } = 256;

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Generation ends before the first occurrence of any of these in the generated text (which excludes it).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>End at the end-of-text token (it is not part of the text). When false it is decoded like any token.</summary>
    public bool StopAtEndOfText { get; init; } = true;

    /// <summary>
    /// When the prompt and <see cref="MaxNewTokens"/> do not fit the context, drop tokens from the prompt's start
    /// (keeping at least one) instead of refusing a prompt longer than the context.
    /// </summary>
    public bool TruncatePromptFromLeft { get; init; }

    public GenerationOptions Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"max new tokens must be ≥ 1, got {MaxNewTokens}");
        Sampling.Validate();
        foreach (var s in StopStrings)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("stop strings must not be empty");
        return this;
    }
}
