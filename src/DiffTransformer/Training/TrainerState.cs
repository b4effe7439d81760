namespace DiffTransformer.Training;

/// <summary>Progress of a run at a checkpoint: with the model and optimizer state it is all a resume needs.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; init; }
    /// <summary>Training tokens consumed.</summary>
    public long Tokens { get; init; }
    /// <summary>Index of the next training row (the data position; a row's window is a pure function of it and the seed).</summary>
    public long NextRow { get; init; }
    /// <summary>Training wall time so far, seconds.</summary>
    public double ElapsedSeconds { get; init; }
    public string Tokenizer { get; init; } = "";
    public double? LastValLoss { get; init; }
}
