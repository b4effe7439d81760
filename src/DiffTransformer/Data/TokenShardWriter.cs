using System.Buffers.Binary;
using System.Text;

namespace DiffTransformer.Data;

/// <summary>
/// Writes one token shard: a header whose count says "incomplete", buffered tokens, then the real count on
/// <see cref="Complete"/>, so a shard whose writer died is refused rather than read short.
/// </summary>
public sealed class TokenShardWriter : IDisposable
{
    private readonly FileStream stream;
    private readonly ShardHeader header;
    private readonly byte[] buffer = new byte[1 << 20];
    private int buffered;
    private bool completed;

    public TokenShardWriter(string path, string tokenizer, int vocabSize, int endOfText)
    {
        Path = path;
        if (Encoding.UTF8.GetByteCount(tokenizer) > ShardHeader.MaxNameBytes)
            throw new ArgumentException($"tokenizer name '{tokenizer}' is longer than {ShardHeader.MaxNameBytes} UTF-8 bytes");
        header = new ShardHeader(tokenizer, vocabSize, endOfText, Tokenizers.TokenWidth(vocabSize), ShardHeader.IncompleteCount);
        stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1);
        stream.Write(header.ToBytes());
    }

    public string Path { get; }

    /// <summary>Tokens written so far.</summary>
    public long Length { get; private set; }

    public void Write(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(completed, this);
        int width = header.TokenWidth;
        foreach (int t in tokens)
        {
            if ((uint)t >= (uint)header.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), t, $"{Path}: token id {t} is outside [0, {header.VocabSize})");
            if (buffered + width > buffer.Length) Flush();
            if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(buffered), (ushort)t);
            else BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(buffered), t);
            buffered += width;
        }
        Length += tokens.Length;
    }

    public void Write(int token) => Write([token]);

    private void Flush()
    {
        stream.Write(buffer, 0, buffered);
        buffered = 0;
    }

    /// <summary>Flushes the tokens, patches the count into the header, syncs to disk and closes the file.</summary>
    public void Complete()
    {
        if (completed) return;
        Flush();
        ShardHeader.WriteCount(stream, Length);
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        completed = true;
    }

    /// <summary>Closes without completing: the header keeps the "incomplete" count and readers refuse the file.</summary>
    public void Dispose()
    {
        completed = true;
        stream.Dispose();
    }
}
