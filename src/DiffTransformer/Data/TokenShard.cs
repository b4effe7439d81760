using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace DiffTransformer.Data;

/// <summary>
/// The fixed 64-byte header of a token shard (all integers little-endian):
/// <code>
///  0  8  magic "DTTOKENS"
///  8  4  format version (1)
/// 12  4  header size in bytes (64); tokens start here
/// 16  4  token width in bytes: 2 when vocab_size ≤ 65536, else 4
/// 20  4  vocab size
/// 24  4  end-of-text id
/// 28  4  reserved (0)
/// 32  8  token count (−1 while a writer has not completed the shard)
/// 40 24  tokenizer name, UTF-8, zero-padded
/// 64  …  token count × width bytes of little-endian unsigned ids
/// </code>
/// </summary>
public sealed record ShardHeader(string Tokenizer, int VocabSize, int EndOfText, int TokenWidth, long TokenCount)
{
    public const int Size = 64;
    public const int Version = 1;
    public const int MaxNameBytes = 24;
    private const int CountOffset = 32;
    internal const long IncompleteCount = -1;   // the count a writer puts in the header until it completes the shard
    private static ReadOnlySpan<byte> Magic => "DTTOKENS"u8;

    /// <summary>File length the header implies.</summary>
    public long FileLength => Size + TokenCount * TokenWidth;

    internal byte[] ToBytes()
    {
        var b = new byte[Size];
        Magic.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), Size);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), TokenWidth);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), VocabSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(24), EndOfText);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(CountOffset), TokenCount);
        int n = Encoding.UTF8.GetBytes(Tokenizer, b.AsSpan(40, MaxNameBytes));
        if (n == 0) throw new ArgumentException("tokenizer name must not be empty");
        return b;
    }

    internal static void WriteCount(Stream stream, long count)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, count);
        stream.Seek(CountOffset, SeekOrigin.Begin);
        stream.Write(b);
    }

    /// <summary>Reads and checks the header of <paramref name="path"/>, including that the file length matches the token count.</summary>
    public static ShardHeader Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"token shard not found: {path}", path);
        long fileLength = new FileInfo(path).Length;
        if (fileLength < Size)
            throw new InvalidDataException($"{path}: truncated token shard: {fileLength} bytes, shorter than the {Size}-byte header");
        var b = new byte[Size];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            fs.ReadExactly(b);
        if (!b.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a token shard: magic bytes are '{Convert.ToHexString(b, 0, 8)}', expected '{Convert.ToHexString(Magic)}' (\"DTTOKENS\")");
        int version = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(8));
        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(12));
        if (version != Version || headerSize != Size)
            throw new InvalidDataException($"{path}: unknown token shard format version {version} (header size {headerSize}); this build reads version {Version}");
        int width = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(16));
        int vocab = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(20));
        int eot = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(24));
        long count = BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(CountOffset));
        if (width is not (2 or 4))
            throw new InvalidDataException($"{path}: bad token width {width} in header (expected 2 or 4)");
        if (vocab <= 0 || (width == 2 && vocab > 65536) || eot < 0 || eot >= vocab)
            throw new InvalidDataException($"{path}: inconsistent header: vocab size {vocab}, end-of-text id {eot}, token width {width}");
        var nameBytes = b.AsSpan(40, MaxNameBytes);
        int nameLength = nameBytes.IndexOf((byte)0);
        string name;
        try
        {
            name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(nameBytes[..(nameLength < 0 ? MaxNameBytes : nameLength)]);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{path}: tokenizer name in header is not valid UTF-8");
        }
        if (name.Length == 0) throw new InvalidDataException($"{path}: tokenizer name in header is empty");
        if (count == IncompleteCount)
            throw new InvalidDataException($"{path}: incomplete token shard: its writer never completed it");
        var header = new ShardHeader(name, vocab, eot, width, count);
        if (count < 0 || (fileLength - Size) / width < count || fileLength != header.FileLength)
            throw new InvalidDataException(
                $"{path}: header says {count:N0} tokens ({count * (long)width:N0} bytes of {width}-byte ids) but the file holds {fileLength - Size:N0} bytes after the header (truncated or corrupt)");
        return header;
    }
}

/// <summary>
/// A token shard on disk, memory-mapped read-only (see <see cref="ShardHeader"/> for the layout).
/// Safe to read from several threads at once.
/// </summary>
public sealed class TokenShard : ITokenSequence, IDisposable
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private readonly long dataOffset;

    private TokenShard(string path, ShardHeader header, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Header = header;
        this.map = map;
        this.view = view;
        dataOffset = view.PointerOffset + ShardHeader.Size;
    }

    /// <summary>Validates the header against the file and maps it.</summary>
    public static TokenShard Open(string path)
    {
        var header = ShardHeader.Read(path);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new TokenShard(path, header, map, view);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    public string Path { get; }
    public ShardHeader Header { get; }
    public string Name => Path;
    public long Length => Header.TokenCount;

    public void CopyTo(long start, Span<int> destination)
    {
        TokenSequence.CheckWindow(this, start, destination.Length);
        if (Header.TokenWidth == 4)
        {
            view.SafeMemoryMappedViewHandle.ReadSpan((ulong)(dataOffset + start * 4), destination);
            if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(destination, destination);
            return;
        }
        // 2-byte ids: read into the tail of the destination, then widen from the front (no scratch buffer).
        var asShorts = MemoryMarshal.Cast<int, ushort>(destination)[destination.Length..];
        view.SafeMemoryMappedViewHandle.ReadSpan((ulong)(dataOffset + start * 2), asShorts);
        if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(asShorts, asShorts);
        for (int i = 0; i < destination.Length; i++) destination[i] = asShorts[i];
    }

    public void CopyTo(long start, Span<long> destination)
    {
        TokenSequence.CheckWindow(this, start, destination.Length);
        // Read as int into the upper half of the destination, then widen from the front.
        var asInts = MemoryMarshal.Cast<long, int>(destination)[destination.Length..];
        CopyTo(start, asInts);
        for (int i = 0; i < destination.Length; i++) destination[i] = asInts[i];
    }

    public void Dispose()
    {
        view.Dispose();
        map.Dispose();
    }
}

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
