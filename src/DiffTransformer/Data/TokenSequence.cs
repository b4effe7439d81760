namespace DiffTransformer.Data;

/// <summary>A read-only run of token ids that can be copied out by window: a shard, a split, or an array.</summary>
public interface ITokenSequence
{
    /// <summary>What the sequence is (a file, "train", ...), for error messages.</summary>
    string Name { get; }

    /// <summary>Number of tokens.</summary>
    long Length { get; }

    /// <summary>Copies tokens [start, start + destination.Length) into <paramref name="destination"/>.</summary>
    void CopyTo(long start, Span<long> destination);

    /// <inheritdoc cref="CopyTo(long, Span{long})"/>
    void CopyTo(long start, Span<int> destination);
}

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

/// <summary>Helpers shared by the sequence implementations.</summary>
public static class TokenSequence
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless [start, start + count) lies inside the sequence.</summary>
    public static void CheckWindow(ITokenSequence sequence, long start, long count)
    {
        if (start < 0 || count < 0 || start > sequence.Length - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{sequence.Name}: window [{start}, {start + count}) is outside [0, {sequence.Length})");
    }

    /// <summary>The whole sequence as an int array (for small sequences: tests, decoding a document).</summary>
    public static int[] ToArray(this ITokenSequence sequence)
    {
        if (sequence.Length > Array.MaxLength) throw new InvalidOperationException($"{sequence.Name}: {sequence.Length} tokens do not fit in one array");
        var all = new int[sequence.Length];
        sequence.CopyTo(0, all);
        return all;
    }
}
