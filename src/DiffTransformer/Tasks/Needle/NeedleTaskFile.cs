namespace DiffTransformer.Tasks.Needle;

/// <summary>What needle_task.json records beside a needle dataset: the generator, its seed, the haystack and the options.</summary>
public sealed record NeedleTaskFile : ITaskFile
{
    public const string FileName = "needle_task.json";
    public const string TaskName = "needle";
    public const int CurrentGeneratorVersion = 2;   // 2: documents of at least 128 tokens (the question repeats the needle's words)

    public string Task { get; init; } = TaskName;
    public int GeneratorVersion { get; init; } = CurrentGeneratorVersion;
    public required long Seed { get; init; }
    public required long TrainDocuments { get; init; }
    public required long ValDocuments { get; init; }

    /// <summary>The haystack's inputs (absolute paths), or empty for generated filler.</summary>
    public required IReadOnlyList<string> Haystack { get; init; }

    /// <summary>The JSONL field of the haystack inputs.</summary>
    public string HaystackField { get; init; } = "text";

    public required NeedleTaskOptions Options { get; init; }
}
