namespace DiffTransformer.Data;

/// <summary>
/// Appends documents to one split of a dataset being written into <c>dir</c>: each document's tokens, then end-of-text,
/// cutting a new shard file <c>{split}_NNNNN.bin</c> every <c>shardTokens</c> tokens. <see cref="Complete"/> gives the
/// split's meta.json entry.
/// </summary>
public sealed class SplitWriter(string dir, string split, ITokenizer tokenizer, long shardTokens) : IDisposable
{
    private readonly List<ShardMeta> shards = [];
    private TokenShardWriter? current;

    public long Documents { get; private set; }
    public long Tokens { get; private set; }
    public long Bytes { get; private set; }

    public void AppendDocument(int[] tokens, long textBytes)
    {
        Append(tokens);
        Append([tokenizer.EndOfText]);
        Documents++;
        Bytes += textBytes;
    }

    private void Append(ReadOnlySpan<int> tokens)
    {
        while (!tokens.IsEmpty)
        {
            current ??= new TokenShardWriter(Path.Combine(dir, $"{split}_{shards.Count:D5}.bin"), tokenizer.Name, tokenizer.VocabSize, tokenizer.EndOfText);
            int n = (int)Math.Min(tokens.Length, shardTokens - current.Length);
            current.Write(tokens[..n]);
            tokens = tokens[n..];
            Tokens += n;
            if (current.Length == shardTokens) CloseShard();
        }
    }

    private void CloseShard()
    {
        if (current is null) return;
        current.Complete();
        shards.Add(new ShardMeta { File = Path.GetFileName(current.Path), Tokens = current.Length });
        current = null;
    }

    public SplitMeta Complete()
    {
        CloseShard();
        return new SplitMeta { Documents = Documents, Tokens = Tokens, Bytes = Bytes, Shards = [.. shards] };
    }

    public void Dispose() => current?.Dispose();
}
