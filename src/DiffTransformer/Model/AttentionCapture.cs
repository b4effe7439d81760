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

/// <summary>
/// Pass to a forward to receive attention maps (forces the explicit core for that call).
/// Maps are large (B·2H·T·S floats a layer): restrict <see cref="Layers"/> and the kinds wanted.
/// </summary>
public sealed class AttentionCapture : IDisposable
{
    private readonly List<AttentionMaps> maps = [];

    public bool WantLogits { get; init; } = true;
    public bool WantProbs { get; init; } = true;
    public bool WantDifferential { get; init; } = true;

    /// <summary>Layers to record; null records all.</summary>
    public IReadOnlySet<int>? Layers { get; init; }

    public IReadOnlyList<AttentionMaps> Maps => maps;

    public bool Wants(int layer) => Layers is null || Layers.Contains(layer);

    internal void Record(int layer, Architecture arch, Tensor logits, Tensor probs, Tensor? differential, double? lambda)
    {
        if (!Wants(layer)) return;
        maps.Add(new AttentionMaps
        {
            Layer = layer,
            Arch = arch,
            Logits = WantLogits ? Own(logits) : null,
            Probs = WantProbs ? Own(probs) : null,
            Differential = WantDifferential && differential is not null ? Own(differential) : null,
            Lambda = lambda,
        });
    }

    private static Tensor Own(Tensor t) => t.detach().clone().DetachFromDisposeScope();

    public void Clear()
    {
        foreach (var m in maps) m.Dispose();
        maps.Clear();
    }

    public void Dispose() => Clear();
}
