namespace DiffTransformer.Evaluation;

/// <summary>
/// One model's activation magnitudes over every window: the attention logits q·kᵀ/√d (causal entries; DIFF: both
/// maps of every head) and the hidden states (each decoder block's output), over all layers and per layer.
/// </summary>
public sealed record OutlierModelScore(EvalModelInfo Model, int Context, int Windows, long Tokens, double Seconds,
    MagnitudeStats Logits, MagnitudeStats Hidden, IReadOnlyList<MagnitudeStats> LogitsByLayer, IReadOnlyList<MagnitudeStats> HiddenByLayer);
