namespace DiffTransformer.Study;

/// <summary>One unit's state: done, trained with suites left, training (steps so far), or not started; minutes left (estimated).</summary>
public sealed record StudyUnitStatus(string Id, string State, long TrainTokensPerModel, double? MinutesLeft);
