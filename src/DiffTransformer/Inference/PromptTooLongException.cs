using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>A prompt that does not fit the model's context; both lengths are in the message.</summary>
public sealed class PromptTooLongException(int promptTokens, int contextLength)
    : ArgumentException($"the prompt is {promptTokens} tokens but the model's context (max_seq_len) is {contextLength} tokens; shorten it or ask for truncation from the left")
{
    public int PromptTokens { get; } = promptTokens;
    public int ContextLength { get; } = contextLength;
}
