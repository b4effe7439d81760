using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace DiffTransformer.Data;

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
