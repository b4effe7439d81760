using DiffTransformer.Model;

namespace DiffTransformer.Study;

/// <summary>
/// One trained model of a unit: what it is and the deterministic end-of-training figures (validation loss and the task's
/// metrics; the same bits after any resume), and, apart, how long it took (for estimates; not in the report's tables).
/// </summary>
public sealed record StudyRunFigures(Architecture Arch, long Parameters, long Steps, long Tokens, double? ValLoss,
    IReadOnlyDictionary<string, double> Task, double TokensPerSecond, double Minutes);
