using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>A piece of streamed text; the last chunk of a generation carries its <see cref="Result"/>.</summary>
public sealed record GenerationChunk(string Text, GenerationResult? Result = null);
