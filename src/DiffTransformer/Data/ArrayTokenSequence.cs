namespace DiffTransformer.Data;

/// <summary>An in-memory token sequence (tests, small experiments).</summary>
public sealed class ArrayTokenSequence(int[] tokens, string name = "array") : ITokenSequence
{
    public string Name { get; } = name;
    public long Length => tokens.Length;

    public void CopyTo(long start, Span<long> destination)
    {
        TokenSequence.CheckWindow(this, start, destination.Length);
        var src = tokens.AsSpan((int)start, destination.Length);
        for (int i = 0; i < src.Length; i++) destination[i] = src[i];
    }

    public void CopyTo(long start, Span<int> destination)
    {
        TokenSequence.CheckWindow(this, start, destination.Length);
        tokens.AsSpan((int)start, destination.Length).CopyTo(destination);
    }
}
