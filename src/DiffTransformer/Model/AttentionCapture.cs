using static TorchSharp.torch;

namespace DiffTransformer.Model;

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
