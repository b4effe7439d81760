using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>One layer's attention as the explicit core computed it; the tensors are detached copies owned by this object.</summary>
public sealed class AttentionMaps : IDisposable
{
    public required int Layer { get; init; }
    public required Architecture Arch { get; init; }

    /// <summary>Pre-softmax logits q·k/√d, (B, 2H, T, S); masked (future) positions are −∞. DIFF: map 2h is Q1K1ᵀ of head h, 2h+1 is Q2K2ᵀ.</summary>
    public Tensor? Logits { get; init; }

    /// <summary>Softmax maps, (B, 2H, T, S), same indexing as <see cref="Logits"/>.</summary>
    public Tensor? Probs { get; init; }

    /// <summary>DIFF only: the differential map A1 − λ·A2 per head, (B, H, T, S).</summary>
    public Tensor? Differential { get; init; }

    /// <summary>DIFF only: λ of this layer at the time of the forward.</summary>
    public double? Lambda { get; init; }

    public void Dispose()
    {
        Logits?.Dispose();
        Probs?.Dispose();
        Differential?.Dispose();
    }
}
