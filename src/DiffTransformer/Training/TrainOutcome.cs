namespace DiffTransformer.Training;

/// <summary>How a run ended.</summary>
public enum TrainOutcome
{
    Completed,
    /// <summary>Stopped on request (Ctrl-C, SIGTERM, cancellation) after saving a checkpoint.</summary>
    Interrupted,
}
