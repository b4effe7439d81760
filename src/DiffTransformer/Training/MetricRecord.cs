namespace DiffTransformer.Training;

/// <summary>One line of metrics.jsonl: a training step or an evaluation.</summary>
public sealed record MetricRecord
{
    /// <summary>"train" or "eval".</summary>
    public required string Kind { get; init; }
    public required long Step { get; init; }
    public double? Loss { get; init; }
    public double? Lr { get; init; }
    public double? GradNorm { get; init; }
    public long? Tokens { get; init; }
    public double? TokensPerSecond { get; init; }
    public double? ElapsedSeconds { get; init; }
    public double? ValLoss { get; init; }
    /// <summary>DIFF: λ of each layer.</summary>
    public double[]? Lambda { get; init; }
    /// <summary>Task metrics (e.g. recall accuracy) by name.</summary>
    public Dictionary<string, double>? Task { get; init; }
}
