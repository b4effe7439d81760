namespace DiffTransformer.Training;

/// <summary>What a progress display shows after each step.</summary>
public sealed record TrainProgress(long Step, long TotalSteps, double Loss, double Lr, double TokensPerSecond,
    TimeSpan Elapsed, TimeSpan Eta, double? ValLoss, IReadOnlyDictionary<string, double>? Task);
