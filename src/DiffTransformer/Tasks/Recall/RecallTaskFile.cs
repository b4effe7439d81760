namespace DiffTransformer.Tasks.Recall;

/// <summary>What recall_task.json records beside a synthetic dataset: the generator, its seed and options.</summary>
public sealed record RecallTaskFile : ITaskFile
{
    public const string FileName = "recall_task.json";
    public const string TaskName = "kv-recall";
    public const int CurrentGeneratorVersion = 1;

    public string Task { get; init; } = TaskName;

    /// <summary>Bumped whenever the generator would draw different documents from the same seed and options.</summary>
    public int GeneratorVersion { get; init; } = CurrentGeneratorVersion;

    public required long Seed { get; init; }
    public required long TrainDocuments { get; init; }
    public required long ValDocuments { get; init; }
    public required RecallTaskOptions Options { get; init; }
}
