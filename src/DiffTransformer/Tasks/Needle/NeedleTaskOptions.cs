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

    /// <summary>
    /// Fixed facts (the facts task; empty for the needle task): keys outside <see cref="Keys"/> with values that never change.
    /// A training document that asks one either does not state it (the answer is the memorised value) or, with
    /// probability <see cref="OverrideFraction"/>, states it with another value, which the answer then follows.
    /// </summary>
    public IReadOnlyList<NeedleFact> Facts { get; init; } = [];

    /// <summary>Fraction of the needle documents (not plain text) that ask a fixed fact, when there are any.</summary>
    public double FactFraction { get; init; } = 0.3;

    /// <summary>Of the documents that ask a fixed fact, the fraction whose context states it with another value.</summary>
    public double OverrideFraction { get; init; } = 0.5;

    /// <summary>
    /// Fraction of the needle documents that are dense (<see cref="NeedleBuilder.DenseDocument"/>): 1 to MaxNeedles needles
    /// in 4–16 haystack tokens, every one asked. A warm-up for retrieval that plain needle documents teach slowly; 0 by
    /// default (docs/results/needle-defaults/).
    /// </summary>
    public double DenseFraction { get; init; }

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
        if (DenseFraction is < 0 or > 1) throw new ArgumentException($"dense_fraction must be in [0, 1], got {DenseFraction}");
        if (FactFraction is < 0 or > 1) throw new ArgumentException($"fact_fraction must be in [0, 1], got {FactFraction}");
        if (OverrideFraction is < 0 or > 1) throw new ArgumentException($"override_fraction must be in [0, 1], got {OverrideFraction}");
        foreach (var f in Facts)
        {
            if (f.Key.Length == 0 || f.Key.Any(char.IsDigit)) throw new ArgumentException($"fact key \"{f.Key}\" must be non-empty and hold no digits");
            if (Keys.Contains(f.Key, StringComparer.Ordinal)) throw new ArgumentException($"fact key \"{f.Key}\" is also a needle key; fixed facts need keys of their own");
            if (f.Value.Length != ValueDigits || f.Value[0] == '0' || !f.Value.All(char.IsAsciiDigit))
                throw new ArgumentException($"fact {f.Key}: value \"{f.Value}\" is not a {ValueDigits}-digit number without a leading zero");
        }
        if (Facts.Select(f => f.Key).Distinct(StringComparer.Ordinal).Count() != Facts.Count) throw new ArgumentException("fact keys must be distinct");
        return this;
    }

    /// <summary>One-line summary for logs and meta.json.</summary>
    public string Describe() =>
        $"1–{MaxNeedles} needles \"{Template.Needle}\" among {Keys.Count} keys, {ValueDigits}-digit values, 1–{MaxQuestions} questions, " +
        $"{ContextLength} tokens, {PlainFraction:P0} plain text" +
        (Facts.Count == 0 ? "" : $"; {Facts.Count} fixed facts asked in {FactFraction:P0} of the needle documents, {OverrideFraction:P0} of them overridden by the context");

    /// <summary>Keys of the facts task's fixed facts: eight city names that are not among <see cref="DefaultCities"/>.</summary>
    public static IReadOnlyList<string> DefaultFactKeys { get; } = ["Dakar", "Sofia", "Lagos", "Riga", "Minsk", "Tunis", "Accra", "Kabul"];

    /// <summary>Forty short city names (ASCII, no two alike in their first four letters).</summary>
    public static IReadOnlyList<string> DefaultCities { get; } =
    [
        "Paris", "Rome", "Oslo", "Cairo", "Lima", "Tokyo", "Delhi", "Berlin", "Madrid", "Dublin",
        "Vienna", "Prague", "Warsaw", "Athens", "Lisbon", "Quito", "Nairobi", "Havana", "Seoul", "Hanoi",
        "Manila", "Jakarta", "Bogota", "Santiago", "Caracas", "Ottawa", "Denver", "Boston", "Chicago", "Austin",
        "Sydney", "Perth", "Zurich", "Geneva", "Milan", "Naples", "Munich", "Hamburg", "Kyoto", "Osaka",
    ];
}
