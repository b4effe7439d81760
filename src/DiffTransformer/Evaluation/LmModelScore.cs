namespace DiffTransformer.Evaluation;

/// <summary>One model's held-out figures over all documents (token-weighted), and per document.</summary>
public sealed record LmModelScore(EvalModelInfo Model, int Context, int Stride, long Tokens, long Bytes, double Nats,
    double Seconds, IReadOnlyList<LmDocumentScore> Documents)
{
    /// <summary>Mean cross-entropy over every scored token, nats per token.</summary>
    public double Loss => Nats / Tokens;

    /// <summary>exp(<see cref="Loss"/>).</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>Total nats / ln 2 / total UTF-8 bytes: comparable across tokenizers.</summary>
    public double BitsPerByte => Nats / Math.Log(2) / Bytes;

    /// <summary>Scored tokens per second of forward passes.</summary>
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}
