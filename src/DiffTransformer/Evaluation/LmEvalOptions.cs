namespace DiffTransformer.Evaluation;

/// <summary>What <see cref="LmEval"/> scores and how.</summary>
public sealed record LmEvalOptions
{
    /// <summary>
    /// Text files (a document each), folders (searched for <see cref="Globs"/>), JSONL files (a document a line, its
    /// <see cref="Field"/>), or one prepared dataset directory (its <see cref="Split"/>, one document per end-of-text).
    /// </summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>The JSONL field holding the text.</summary>
    public string Field { get; init; } = "text";

    public IReadOnlyList<string> Globs { get; init; } = ["*.txt", "*.md"];

    /// <summary>The split of a prepared dataset: val (held out) or train.</summary>
    public string Split { get; init; } = "val";

    /// <summary>Tokens a window holds; null: each model's max_seq_len.</summary>
    public int? Context { get; init; }

    /// <summary>How far each window moves; null: half the context. Every token is scored once, with at least context − stride tokens before it (except in a document's first window).</summary>
    public int? Stride { get; init; }

    /// <summary>Score at most this many documents (in input order).</summary>
    public int MaxDocuments { get; init; } = int.MaxValue;

    /// <summary>Windows per forward.</summary>
    public int BatchSize { get; init; } = 8;
}
