using DiffTransformer.Tasks.Icl;

namespace DiffTransformer.Evaluation;

/// <summary>What <c>eval icl</c> measures (docs/EVALUATION.md): the episodes, the shots, the orders and the seed.</summary>
public sealed record IclEvalOptions
{
    /// <summary>Labelled JSONL files or folders; empty: the icl task the models were trained on (found through their run directories).</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>How the examples are read and episodes shaped; null: the trained task's options, or <see cref="IclTaskOptions"/>' defaults with <see cref="Inputs"/>.</summary>
    public IclTaskOptions? Task { get; init; }

    /// <summary>
    /// Tokens an episode may take; null: the training context of the icl task the models were trained on when that is
    /// what is evaluated (so that k* is the one of their icl_acc), else every model's max_seq_len.
    /// </summary>
    public int? Context { get; init; }

    /// <summary>Demonstrations before each query, ascending; null: 1, 2, 4, … below the most every model's context holds, and that most.</summary>
    public IReadOnlyList<int>? Shots { get; init; }

    /// <summary>Demonstration sets per number of shots (each with its own classes and names).</summary>
    public int Sets { get; init; } = 8;

    /// <summary>Held-out queries per demonstration set, balanced over its classes.</summary>
    public int Queries { get; init; } = 32;

    /// <summary>Fixed demonstration sets of the order-robustness measure; 0 leaves it out.</summary>
    public int OrderSets { get; init; } = 4;

    /// <summary>Random orders, and as many class-grouped orders, of each fixed set (at least 2).</summary>
    public int Orders { get; init; } = 8;

    /// <summary>Demonstrations of each fixed set; null: the most every model's context holds.</summary>
    public int? OrderShots { get; init; }

    public long Seed { get; init; } = 1;

    /// <summary>(query, name) rows a forward.</summary>
    public int BatchSize { get; init; } = 32;
}
