using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model produced end-of-text.</summary>
    EndOfText,
    /// <summary>A stop string appeared in the generated text.</summary>
    StopString,
    /// <summary>The requested number of new tokens was reached.</summary>
    MaxTokens,
    /// <summary>The model's context (max_seq_len) is full.</summary>
    ContextFull,
    /// <summary>Cut short from outside: the server stopped (<see cref="ContinuousBatcher.StopAsync"/>) before the generation ended.</summary>
    Interrupted,
}
