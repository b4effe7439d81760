namespace DiffTransformer.Study;

/// <summary>One suite on a unit's pair: its headline figures per model (diff, transformer) and its time.</summary>
public sealed record StudyEvalFigures(string Suite, string Hash, IReadOnlyList<IReadOnlyDictionary<string, double>> Models, double Seconds);
