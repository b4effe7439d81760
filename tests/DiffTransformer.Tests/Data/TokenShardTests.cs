using System.Buffers.Binary;
using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

public sealed class TokenShardTests
{
    private static int[] Ramp(int n, int vocab) => Enumerable.Range(0, n).Select(i => (int)((i * 7919L) % vocab)).ToArray();

    private static string WriteShard(string path, int[] tokens, string tokenizer = "byte", int vocab = 257, int eot = 256)
    {
        using var w = new TokenShardWriter(path, tokenizer, vocab, eot);
        w.Write(tokens);
        w.Complete();
        return path;
    }

    [Theory]
    [InlineData(257, 2)]
    [InlineData(100277, 4)]
    public void ReadsBackWindowsOfAShardLargerThanOneBuffer(int vocab, int width)
    {
        using var dir = new TempDir();
        // 1.5M tokens: several times the writer's 1 MiB buffer, and more than one mapped page run.
        var tokens = Ramp(1_500_000, vocab);
        string path = WriteShard(dir["s.bin"], tokens, "test", vocab, vocab - 1);
        Assert.Equal(ShardHeader.Size + tokens.LongLength * width, new FileInfo(path).Length);
        using var shard = TokenShard.Open(path);
        Assert.Equal(tokens.Length, shard.Length);
        Assert.Equal(width, shard.Header.TokenWidth);
        Assert.Equal("test", shard.Header.Tokenizer);
        Assert.Equal(tokens, shard.ToArray());
        foreach (long start in new long[] { 0, 1, 524_287, 524_288, 1_048_575, 1_499_000 })
        {
            var longs = new long[1000];
            shard.CopyTo(start, longs);
            Assert.Equal(tokens.Skip((int)start).Take(1000).Select(t => (long)t), longs);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => shard.CopyTo(1_499_999, new long[2]));
    }

    [Fact]
    public void BadMagicIsRefused()
    {
        using var dir = new TempDir();
        string path = WriteShard(dir["s.bin"], Ramp(100, 257));
        var bytes = File.ReadAllBytes(path);
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a token shard", e.Message);
    }

    [Fact]
    public void TruncatedShardIsRefused()
    {
        using var dir = new TempDir();
        string path = WriteShard(dir["s.bin"], Ramp(100, 257));
        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(fs.Length - 3);
        var e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("header says 100 tokens", e.Message);

        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(10);
        e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("shorter than the 64-byte header", e.Message);
    }

    [Fact]
    public void UnknownVersionIsRefused()
    {
        using var dir = new TempDir();
        string path = WriteShard(dir["s.bin"], Ramp(10, 257));
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), 7);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("unknown token shard format version 7", e.Message);
    }

    [Fact]
    public void UncompletedWriterLeavesAShardThatIsRefused()
    {
        using var dir = new TempDir();
        string path = dir["s.bin"];
        using (var w = new TokenShardWriter(path, "byte", 257, 256)) w.Write(Ramp(10, 257));
        var e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("incomplete token shard", e.Message);
    }

    [Fact]
    public void WriterRejectsIdsOutsideTheVocabulary()
    {
        using var dir = new TempDir();
        using var w = new TokenShardWriter(dir["s.bin"], "byte", 257, 256);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Write([257]));
    }
}
