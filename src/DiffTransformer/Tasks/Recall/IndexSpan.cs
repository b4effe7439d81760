namespace DiffTransformer.Tasks.Recall;

/// <summary>A half-open index range [Start, Start + Length): characters of a document, or tokens of a model input.</summary>
public readonly record struct IndexSpan(int Start, int Length)
{
    /// <summary>One past the last index.</summary>
    public int End => Start + Length;

    /// <summary>The same range moved by <paramref name="offset"/>.</summary>
    public IndexSpan Shift(int offset) => new(Start + offset, Length);

    public bool Contains(int index) => index >= Start && index < End;

    public override string ToString() => $"[{Start}, {End})";
}
