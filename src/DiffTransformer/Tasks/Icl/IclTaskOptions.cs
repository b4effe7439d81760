namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// How labelled examples become in-context classification episodes, for training (<see cref="IclDataset"/>) and for
/// <c>eval icl</c>: which JSONL fields hold the text and the label, how much of a text is kept, how many classes an
/// episode has and the label names it may show. The class a text belongs to is never shown: each episode names its
/// classes with names drawn at random from <see cref="LabelPool"/>, so the mapping can only be read from the context.
/// </summary>
public sealed record IclTaskOptions
{
    /// <summary>The JSONL field holding an example's text (a string).</summary>
    public string TextField { get; init; } = "text";

    /// <summary>The JSONL field holding its label (a string, number or boolean; its distinct values are the classes).</summary>
    public string LabelField { get; init; } = "label";

    /// <summary>
    /// UTF-8 bytes of a text kept (whitespace runs folded to one space first; cut at a character boundary): bounds a
    /// demonstration under any byte-level tokenizer (at most one token a byte), so that a context holds a known number of
    /// them whatever examples are drawn.
    /// </summary>
    public int MaxTextBytes { get; init; } = 32;

    /// <summary>Classes per episode (the query's among them), drawn at random per episode; null: every class of the data.</summary>
    public int? Ways { get; init; }

    /// <summary>The names an episode gives its classes, distinct names drawn at random per episode.</summary>
    public IReadOnlyList<string> LabelPool { get; init; } = DefaultLabelPool;

    /// <summary>
    /// Fraction of the examples held out for testing. Which ones is a function of the (kept) text alone
    /// (<see cref="IclExamples.IsTest"/>), so training and <c>eval icl</c> agree on the split of any corpus.
    /// </summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Checks ranges and the names; messages name the field and value.</summary>
    public IclTaskOptions Validate()
    {
        if (string.IsNullOrEmpty(TextField)) throw new ArgumentException("the text field (--text-field) is empty");
        if (string.IsNullOrEmpty(LabelField)) throw new ArgumentException("the label field (--label-field) is empty");
        if (TextField == LabelField) throw new ArgumentException($"the text and label fields are both '{TextField}'");
        if (MaxTextBytes < 1) throw new ArgumentException($"max_text_bytes (--max-text-bytes) must be at least 1, got {MaxTextBytes}");
        if (Ways is int w && w < 2) throw new ArgumentException($"ways (--ways) must be at least 2 classes per episode, got {w}");
        if (TestFraction is <= 0 or >= 1) throw new ArgumentException($"test_fraction must be in (0, 1), got {TestFraction}");
        if (LabelPool.Count < 2) throw new ArgumentException($"the label pool needs at least 2 names, got {LabelPool.Count}");
        foreach (var name in LabelPool)
            if (name.Length == 0 || name.Any(char.IsWhiteSpace) || name.Contains(IclFormat.Arrow, StringComparison.Ordinal))
                throw new ArgumentException($"label name \"{name}\" must be non-empty, without whitespace or '{IclFormat.Arrow}'");
        if (LabelPool.Distinct(StringComparer.Ordinal).Count() != LabelPool.Count) throw new ArgumentException("the label pool's names must be distinct");
        if (Ways is int ways && ways > LabelPool.Count)
            throw new ArgumentException($"ways {ways} needs as many label names, but the label pool has {LabelPool.Count}");
        return this;
    }

    /// <summary>One-line summary for logs and meta.json.</summary>
    public string Describe() =>
        $"text '{TextField}' (first {MaxTextBytes} bytes), label '{LabelField}', {(Ways is int w ? $"{w}" : "all")} classes an episode, " +
        $"names from a pool of {LabelPool.Count}, {TestFraction:P0} of the examples held out";

    /// <summary>
    /// Twenty-four four-letter words with distinct first letters: under the byte tokenizer every name is 4 tokens (its
    /// score sums as many log-probabilities as any other) and its first byte tells it from the others.
    /// </summary>
    public static IReadOnlyList<string> DefaultLabelPool { get; } =
    [
        "blue", "calm", "dusk", "fern", "gold", "haze", "iris", "jade", "kite", "lime", "mint", "nova",
        "opal", "pine", "quay", "ruby", "sage", "tide", "vale", "wren", "yarn", "zinc", "arch", "echo",
    ];
}
