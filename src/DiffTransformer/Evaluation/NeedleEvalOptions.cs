using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Evaluation;

/// <summary>The grid of <c>eval needle</c> (docs/EVALUATION.md).</summary>
public sealed record NeedleEvalOptions
{
    /// <summary>Haystack text (files, folders, JSONL); empty: generated filler.</summary>
    public IReadOnlyList<string> Haystack { get; init; } = [];

    public string HaystackField { get; init; } = "text";

    public IReadOnlyList<NeedleSetting> Settings { get; init; } = NeedleSetting.PaperTable2;

    /// <summary>Answer depths: where the asked needles sit in the haystack, 0 (start) to 1 (end).</summary>
    public IReadOnlyList<double> Depths { get; init; } = [0, 0.25, 0.5, 0.75, 1];

    /// <summary>Prompt lengths in tokens (context, question and the answer's room); null: a quarter, half and all of the shortest model context.</summary>
    public IReadOnlyList<int>? Lengths { get; init; }

    /// <summary>Documents per cell (length × setting × depth).</summary>
    public int Samples { get; init; } = 5;

    public long Seed { get; init; } = 1;

    /// <summary>Keys, digits and template of the needles.</summary>
    public NeedleTaskOptions Task { get; init; } = new();

    public int BatchSize { get; init; } = 16;

    /// <summary>Tokens generated after each question: the digits and room for a space and a full stop.</summary>
    public int MaxNewTokens => Task.ValueDigits + 3;
}
