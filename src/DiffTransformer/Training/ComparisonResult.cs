namespace DiffTransformer.Training;

/// <summary>Both runs of a head-to-head and the table that compares them.</summary>
public sealed record ComparisonResult(TrainResult Diff, TrainResult Transformer, string Table, string Plot);
