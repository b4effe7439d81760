namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// A haystack with needles: the context tokens (end-of-text first, then haystack and needles in order) and the needles
/// in order of position. <see cref="HaystackTokens"/> counts the context's tokens that are not needles or end-of-text.
/// </summary>
public sealed record NeedleDocument(int[] Context, IReadOnlyList<NeedleSpan> Needles, int HaystackTokens)
{
    /// <summary>Whether context position <paramref name="i"/> belongs to a needle.</summary>
    public bool InNeedle(int i) => Needles.Any(n => i >= n.Start && i < n.Start + n.Length);

    /// <summary>The haystack positions of the context (neither end-of-text nor a needle).</summary>
    public IEnumerable<int> HaystackPositions() => Enumerable.Range(1, Context.Length - 1).Where(i => !InNeedle(i));
}
