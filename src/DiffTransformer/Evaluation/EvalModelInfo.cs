using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>A model as an evaluation report records it.</summary>
public sealed record EvalModelInfo(string Path, string Label, Architecture Arch, long Parameters, string Tokenizer, ModelConfig Config);
