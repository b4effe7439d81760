using DiffTransformer.Data;

namespace DiffTransformer.Tasks;

/// <summary>
/// Writing one split of a generated task: document i is a function of (seed, i) alone (<see cref="DocumentRandom"/>), so
/// the documents are drawn in parallel, chunk by chunk, and appended in order: the parallel draw equals a serial one.
/// </summary>
public static class GeneratedSplit
{
    private const int ChunkDocuments = 2048;

    /// <summary>The random source of document <paramref name="index"/> of a split drawn from <paramref name="seed"/>.</summary>
    public static Random DocumentRandom(ulong seed, long index) => new((int)(CounterHash.Hash(seed, (ulong)index) & 0x7FFFFFFF));

    /// <summary>
    /// <paramref name="documents"/> documents of <paramref name="document"/> (tokens without the end-of-text the writer
    /// puts after each; one byte a token, as the generated tasks are byte-level) into the split <paramref name="split"/>
    /// of <paramref name="dir"/>. <paramref name="document"/> must be thread-safe.
    /// </summary>
    public static SplitMeta Write(string dir, string split, ITokenizer tokenizer, long documents, ulong seed, long shardTokens, Func<Random, int[]> document)
    {
        using var writer = new SplitWriter(dir, split, tokenizer, shardTokens);
        var chunk = new int[ChunkDocuments][];
        for (long start = 0; start < documents; start += ChunkDocuments)
        {
            int count = (int)Math.Min(ChunkDocuments, documents - start);
            Parallel.For(0, count, i => chunk[i] = document(DocumentRandom(seed, start + i)));
            for (int i = 0; i < count; i++) writer.AppendDocument(chunk[i], chunk[i].Length);
        }
        return writer.Complete();
    }
}
