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
