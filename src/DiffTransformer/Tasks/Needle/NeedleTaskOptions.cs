namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// The shape of needle-in-real-text documents, for training (<see cref="NeedleDataset"/>) and for the evaluation grid:
/// keys (cities), numbers of <see cref="ValueDigits"/> digits, and how many needles and questions a training document has.
/// </summary>
public sealed record NeedleTaskOptions
{
    /// <summary>Keys the needles are drawn from (distinct within a document).</summary>
    public IReadOnlyList<string> Keys { get; init; } = DefaultCities;

    /// <summary>Digits of each magic number (no leading zero).</summary>
    public int ValueDigits { get; init; } = 3;

    public NeedleTemplate Template { get; init; } = new();

    /// <summary>Tokens of a training document, end-of-text included.</summary>
    public int ContextLength { get; init; } = 256;

    /// <summary>A training document has uniformly 1 to this many needles.</summary>
    public int MaxNeedles { get; init; } = 4;

    /// <summary>…and asks min(needles, 1 to this many) of them, each question followed by its answer.</summary>
    public int MaxQuestions { get; init; } = 2;

    /// <summary>Fraction of training documents that are plain haystack text (no needles, no questions).</summary>
    public double PlainFraction { get; init; } = 0.2;

    /// <summary>Checks ranges; messages name the field and value.</summary>
    public NeedleTaskOptions Validate()
    {
        Template.Validate();
        if (Keys.Count < 2) throw new ArgumentException($"needle keys: at least 2 are needed, got {Keys.Count}");
        if (Keys.Distinct(StringComparer.Ordinal).Count() != Keys.Count) throw new ArgumentException("needle keys must be distinct");
        if (Keys.Any(k => k.Length == 0 || k.Any(char.IsDigit))) throw new ArgumentException("needle keys must be non-empty and hold no digits");
        if (ValueDigits is < 1 or > 9) throw new ArgumentException($"value_digits must be in [1, 9], got {ValueDigits}");
        if (MaxNeedles < 1 || MaxNeedles > Keys.Count) throw new ArgumentException($"max_needles must be in [1, {Keys.Count} keys], got {MaxNeedles}");
        if (MaxQuestions < 1) throw new ArgumentException($"max_questions must be at least 1, got {MaxQuestions}");
        if (ContextLength < 16) throw new ArgumentException($"context_length must be at least 16, got {ContextLength}");
        if (PlainFraction is < 0 or >= 1) throw new ArgumentException($"plain_fraction must be in [0, 1), got {PlainFraction}");
        return this;
    }

    /// <summary>One-line summary for logs and meta.json.</summary>
    public string Describe() =>
        $"1–{MaxNeedles} needles \"{Template.Needle}\" among {Keys.Count} keys, {ValueDigits}-digit values, 1–{MaxQuestions} questions, " +
        $"{ContextLength} tokens, {PlainFraction:P0} plain text";

    /// <summary>Forty short city names (ASCII, no two alike in their first four letters).</summary>
    public static IReadOnlyList<string> DefaultCities { get; } =
    [
        "Paris", "Rome", "Oslo", "Cairo", "Lima", "Tokyo", "Delhi", "Berlin", "Madrid", "Dublin",
        "Vienna", "Prague", "Warsaw", "Athens", "Lisbon", "Quito", "Nairobi", "Havana", "Seoul", "Hanoi",
        "Manila", "Jakarta", "Bogota", "Santiago", "Caracas", "Ottawa", "Denver", "Boston", "Chicago", "Austin",
        "Sydney", "Perth", "Zurich", "Geneva", "Milan", "Naples", "Munich", "Hamburg", "Kyoto", "Osaka",
    ];
}
