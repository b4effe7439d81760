using DiffTransformer.Model;

namespace DiffTransformer.Training;

/// <summary>Summary of a run.</summary>
public sealed record TrainResult
{
    public required TrainOutcome Outcome { get; init; }
    public required string RunDirectory { get; init; }
    public required long Step { get; init; }
    public required long Parameters { get; init; }
    public required ModelConfig Model { get; init; }
    /// <summary>Mean training loss over the last 10% of the steps run in this session (at least one step).</summary>
    public double? FinalTrainLoss { get; init; }
    public double? FinalValLoss { get; init; }
    /// <summary>Training throughput of this session: tokens over wall time of the optimizer steps (evaluation and checkpoints excluded).</summary>
    public double TokensPerSecond { get; init; }
    public IReadOnlyDictionary<string, double> Task { get; init; } = new Dictionary<string, double>();
    /// <summary>Directory of the final model (ModelStore format), when the run completed.</summary>
    public string? FinalModel { get; init; }
    public string? LastCheckpoint { get; init; }
    public TimeSpan Elapsed { get; init; }
}
