using System.Buffers.Binary;
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
