using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Symmetric absmax quantisation of the attention logits q·kᵀ/√d to <see cref="Bits"/> bits before the softmax
/// (the paper's Figure 8). Per scale group (<see cref="Granularity"/>): <c>m = max |x|</c> over the group's visible
/// (causal, not hidden) logits, <c>qmax = 2^(b−1) − 1</c>, <c>s = m / qmax</c> (1 when m = 0), and each logit becomes
/// <c>clamp(round(x / s), −qmax, qmax) · s</c> (round half to even), so a group holds at most <c>2^b − 1</c> levels.
/// Hidden entries are not quantised (the softmax masks them). Set on <see cref="AttentionModule.Quantization"/> or
/// <see cref="LanguageModel.Quantization"/>; the modules then run the explicit core.
/// </summary>
public sealed record LogitQuantization
{
    public const int MinBits = 2;
    public const int MaxBits = 24;

    public LogitQuantization(int bits, QuantGranularity granularity)
    {
        if (bits < MinBits || bits > MaxBits)
            throw new ArgumentException($"logit quantisation needs {MinBits} to {MaxBits} bits, got {bits}");
        if (!Enum.IsDefined(granularity)) throw new ArgumentException($"unknown quantisation granularity {granularity}");
        Bits = bits;
        Granularity = granularity;
    }

    public int Bits { get; }
    public QuantGranularity Granularity { get; }

    /// <summary>The largest integer level, 2^(b−1) − 1; levels run from −qmax to qmax.</summary>
    public long MaxLevel => (1L << (Bits - 1)) - 1;

    /// <summary>"8-bit per-head", for tables.</summary>
    public override string ToString() => $"{Bits}-bit per-{Granularity.ToString().ToLowerInvariant()}";

    /// <summary>
    /// Quantises logits (B, M, T, S) — M maps — with <paramref name="hidden"/> (broadcasting against them, true where a
    /// query does not see a key) left out of the scales; returns the quantised logits (hidden entries as they were).
    /// </summary>
    public Tensor Apply(Tensor logits, Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long[] dims = Granularity == QuantGranularity.Tensor ? [1, 2, 3] : [2, 3];
        Scalar zero = Scalars.Of(0), one = Scalars.Of(1), max = Scalars.Of(MaxLevel), min = Scalars.Of(-MaxLevel);
        var absmax = logits.masked_fill(hidden, zero).abs().amax(dims, keepdim: true);   // (B, 1, 1, 1) or (B, M, 1, 1)
        var scale = absmax.div(max);
        scale = scale.masked_fill(scale.eq(zero), one);                                  // an all-zero group stays zero
        var q = logits.div(scale).round().clamp(min, max).mul(scale);                    // (B, M, T, S)
        return q.where(hidden.logical_not(), logits).MoveToOuterDisposeScope();
    }
}
