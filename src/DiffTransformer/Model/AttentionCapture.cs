using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Pass to a forward to receive attention maps (forces the explicit core for that call) and, with
/// <see cref="OnLayerOutput"/>, each block's output. Maps are large (B·2H·T·S floats a layer): restrict
/// <see cref="Layers"/> and the kinds wanted, or consume them layer by layer with <see cref="OnMaps"/>.
/// </summary>
public sealed class AttentionCapture : IDisposable
{
    private readonly List<AttentionMaps> maps = [];

    public bool WantLogits { get; init; } = true;
    public bool WantProbs { get; init; } = true;
    public bool WantDifferential { get; init; } = true;

    /// <summary>Layers to record; null records all.</summary>
    public IReadOnlySet<int>? Layers { get; init; }

    /// <summary>
    /// When set, each layer's maps are handed to it as soon as they are computed and disposed after the call, instead
    /// of being kept in <see cref="Maps"/>: a forward then holds one layer's maps at a time.
    /// </summary>
    public Action<AttentionMaps>? OnMaps { get; init; }

    /// <summary>
    /// When set, <see cref="LanguageModel"/> calls it with each decoder block's output (layer index, (B, T, E)); the
    /// tensor belongs to the forward and is valid during the call only.
    /// </summary>
    public Action<int, Tensor>? OnLayerOutput { get; init; }

    public IReadOnlyList<AttentionMaps> Maps => maps;

    public bool Wants(int layer) => Layers is null || Layers.Contains(layer);

    internal void Record(int layer, Architecture arch, Tensor logits, Tensor probs, Tensor? differential, double? lambda)
    {
        if (!Wants(layer)) return;
        var recorded = new AttentionMaps
        {
            Layer = layer,
            Arch = arch,
            Logits = WantLogits ? Own(logits) : null,
            Probs = WantProbs ? Own(probs) : null,
            Differential = WantDifferential && differential is not null ? Own(differential) : null,
            Lambda = lambda,
        };
        if (OnMaps is null)
        {
            maps.Add(recorded);
            return;
        }
        using (recorded) OnMaps(recorded);
    }

    internal void RecordLayerOutput(int layer, Tensor output) => OnLayerOutput?.Invoke(layer, output);

    private static Tensor Own(Tensor t) => t.detach().clone().DetachFromDisposeScope();

    public void Clear()
    {
        foreach (var m in maps) m.Dispose();
        maps.Clear();
    }

    public void Dispose() => Clear();
}
