namespace DiffTransformer.Data;

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
