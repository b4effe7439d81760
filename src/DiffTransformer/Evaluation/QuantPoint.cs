using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>
/// One model at one quantisation (<see cref="Bits"/> and <see cref="Granularity"/> null: full precision, the model's
/// normal forward): the held-out loss of <c>eval lm</c> and the accuracy and unsupported-answer rate of <c>eval needle</c>.
/// </summary>
public sealed record QuantPoint(int? Bits, QuantGranularity? Granularity, long Tokens, double Loss, double BitsPerByte,
    double NeedleAccuracy, double NeedleUnsupported, double Seconds)
{
    /// <summary>"full precision" or "8-bit per-head".</summary>
    public string Label => Bits is null ? "full precision" : new LogitQuantization(Bits.Value, Granularity!.Value).ToString();
}
