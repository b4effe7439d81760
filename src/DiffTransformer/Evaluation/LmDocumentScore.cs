namespace DiffTransformer.Evaluation;

/// <summary>One document's figures: tokens scored, its UTF-8 bytes, nats summed, and the means.</summary>
public sealed record LmDocumentScore(string Source, long Tokens, long Bytes, double Nats)
{
    /// <summary>Mean cross-entropy, nats per token.</summary>
    public double Loss => Tokens == 0 ? double.NaN : Nats / Tokens;

    /// <summary>Bits per UTF-8 byte of the document's text.</summary>
    public double BitsPerByte => Bytes == 0 ? double.NaN : Nats / Math.Log(2) / Bytes;
}
