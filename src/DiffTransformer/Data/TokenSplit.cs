using System.Runtime.InteropServices;

namespace DiffTransformer.Data;

/// <summary>One split of a dataset: its shards read as one concatenated token sequence.</summary>
public sealed class TokenSplit : ITokenSequence
{
    private readonly TokenShard[] shards;
    private readonly long[] starts;   // starts[i] = first global index of shard i; starts[^1] = Length

    internal TokenSplit(string name, SplitMeta meta, TokenShard[] shards)
    {
        Name = name;
        Meta = meta;
        this.shards = shards;
        starts = new long[shards.Length + 1];
        for (int i = 0; i < shards.Length; i++) starts[i + 1] = starts[i] + shards[i].Length;
    }

    /// <summary>"train" or "val".</summary>
    public string Name { get; }

    public SplitMeta Meta { get; }
    public IReadOnlyList<TokenShard> Shards => shards;
    public long Length => starts[^1];
    public long Documents => Meta.Documents;

    public void CopyTo(long start, Span<long> destination) => Copy(start, destination);

    /// <summary>
    /// The split's documents in order, each the tokens before its end-of-text (<paramref name="endOfText"/>; every
    /// document a dataset writer appends ends with one), read a block at a time.
    /// </summary>
    public IEnumerable<int[]> ReadDocuments(int endOfText)
    {
        var buffer = new int[1 << 16];
        var document = new List<int>();
        for (long pos = 0; pos < Length; pos += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, Length - pos);
            CopyTo(pos, buffer.AsSpan(0, n));
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != endOfText)
                {
                    document.Add(buffer[i]);
                    continue;
                }
                yield return document.ToArray();
                document.Clear();
            }
        }
    }

    public void CopyTo(long start, Span<int> destination) => Copy(start, destination);

    // Walks the shards that overlap the window, filling the destination piece by piece.
    private void Copy<T>(long start, Span<T> destination) where T : unmanaged
    {
        TokenSequence.CheckWindow(this, start, destination.Length);
        if (destination.IsEmpty) return;
        int shard = Array.BinarySearch(starts, start);
        if (shard < 0) shard = ~shard - 1;
        long pos = start;
        while (!destination.IsEmpty)
        {
            while (pos >= starts[shard + 1]) shard++;   // also steps over empty shards
            long offset = pos - starts[shard];
            int n = (int)Math.Min(destination.Length, shards[shard].Length - offset);
            if (typeof(T) == typeof(long)) shards[shard].CopyTo(offset, MemoryMarshal.Cast<T, long>(destination[..n]));
            else shards[shard].CopyTo(offset, MemoryMarshal.Cast<T, int>(destination[..n]));
            destination = destination[n..];
            pos += n;
        }
    }
}
