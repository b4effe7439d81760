namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// One needle in a document: its key and value, where its tokens start and how many there are, where its value's
/// tokens start and how many, and its depth — the fraction of the haystack's tokens that come before it (0 = first,
/// 1 = last), the paper's answer depth.
/// </summary>
public sealed record NeedleSpan(string Key, string Value, int Start, int Length, int ValueStart, int ValueLength, double Depth);
