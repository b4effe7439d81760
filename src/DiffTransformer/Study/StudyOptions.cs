using DiffTransformer.Model;

namespace DiffTransformer.Study;

/// <summary>Where a study keeps its files and what part of the plan to run.</summary>
public sealed record StudyOptions
{
    /// <summary>Data, run directories (checkpoints, final models) and each suite's files with plots: large, rebuildable.</summary>
    public required string Out { get; init; }

    /// <summary>The unit records, each suite's JSON and markdown, and the report: small, worth committing. Null: <see cref="Out"/>.</summary>
    public string? Results { get; init; }

    /// <summary>Run only these experiments (the report still covers every unit done); null: all.</summary>
    public IReadOnlyList<string>? Only { get; init; }

    /// <summary>Attention kernel of the evaluations (training uses the plan's kernel option).</summary>
    public AttentionKernel Kernel { get; init; } = AttentionKernel.Blocked;

    /// <summary>The command line recorded in each suite's JSON report.</summary>
    public string CommandLine { get; init; } = "difft study";

    public string ResultsDir => Results ?? Out;
}
