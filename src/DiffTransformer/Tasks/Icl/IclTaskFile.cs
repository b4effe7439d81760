namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// What icl_task.json records beside an in-context classification dataset: the generator, its seed, the labelled
/// inputs, the options, the training context and the classes. The examples themselves, split, are in
/// <see cref="ExamplesFileName"/>, so that the dataset's evaluations never depend on the inputs staying where they were.
/// </summary>
public sealed record IclTaskFile : ITaskFile
{
    public const string FileName = "icl_task.json";
    public const string ExamplesFileName = "icl_examples.json";
    public const string TaskName = "icl";
    public const int CurrentGeneratorVersion = 1;

    public string Task { get; init; } = TaskName;
    public int GeneratorVersion { get; init; } = CurrentGeneratorVersion;
    public required long Seed { get; init; }
    public required long TrainDocuments { get; init; }
    public required long ValDocuments { get; init; }

    /// <summary>The labelled inputs (absolute paths).</summary>
    public required IReadOnlyList<string> Examples { get; init; }

    public required IclTaskOptions Options { get; init; }

    /// <summary>Tokens of a training document, end-of-text included (the training context).</summary>
    public required int ContextLength { get; init; }

    /// <summary>The classes (the label field's values) and how many examples each split holds.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    public required int TrainExamples { get; init; }
    public required int TestExamples { get; init; }
}
