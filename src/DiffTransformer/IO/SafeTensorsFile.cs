using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffTransformer.IO;

/// <summary>
/// Reader and writer of the safetensors format (8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw little-endian data).
/// Written from the format's description; every malformed input becomes a <see cref="SafeTensorsException"/>,
/// never a native crash.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly FileStream stream;
    private readonly long dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, FileStream stream, long dataStart,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.stream = stream;
        this.dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    internal static readonly Dictionary<string, (ScalarType Type, int Size)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static string DTypeName(ScalarType t) =>
        DTypes.FirstOrDefault(kv => kv.Value.Type == t).Key ?? throw new NotSupportedException($"dtype {t} cannot be stored in safetensors");

    /// <summary>Opens and validates the header (offsets, sizes, dtypes); tensor data is read on demand.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"weights file not found: {path}", path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            long fileLength = fs.Length;
            if (fileLength < 8) throw Bad(path, $"file is {fileLength} bytes, too short for a safetensors header (truncated?)");
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
            if (headerLen == 0 || headerLen > (ulong)MaxHeaderBytes)
                throw Bad(path, $"header length {headerLen} is not plausible (corrupt file or not safetensors)");
            if ((long)headerLen > fileLength - 8)
                throw Bad(path, $"header length {headerLen} exceeds the file's {fileLength - 8} remaining bytes (truncated?)");
            var header = new byte[headerLen];
            fs.ReadExactly(header);
            long dataStart = 8 + (long)headerLen;
            long dataLength = fileLength - dataStart;

            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(header);
            }
            catch (JsonException e)
            {
                throw Bad(path, $"header is not valid JSON ({e.Message})");
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
                var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object");
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                        continue;
                    }
                    tensors[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
                }
                CheckNoOverlap(path, tensors);
                return new SafeTensorsFile(path, fs, dataStart, tensors, metadata);
            }
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses tensors whose byte ranges overlap (two names would read the same bytes: a corrupt or crafted header),
    /// naming both tensors and their offsets. Empty tensors occupy no bytes and cannot overlap.
    /// </summary>
    private static void CheckNoOverlap(string path, Dictionary<string, SafeTensorInfo> tensors)
    {
        var ranges = tensors.Where(t => t.Value.End > t.Value.Begin).OrderBy(t => t.Value.Begin).ThenBy(t => t.Value.End).ToList();
        for (int i = 1; i < ranges.Count; i++)
        {
            var (a, b) = (ranges[i - 1], ranges[i]);
            if (b.Value.Begin < a.Value.End)
                throw Bad(path, $"tensors '{a.Key}' [{a.Value.Begin}, {a.Value.End}] and '{b.Key}' [{b.Value.Begin}, {b.Value.End}] overlap in data_offsets");
        }
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, $"tensor '{name}': entry is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor '{name}': missing dtype");
        string dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info)) throw Bad(path, $"tensor '{name}': unsupported dtype {dtype}");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}': missing shape");
        var shape = new List<long>();
        foreach (var dim in sh.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long v) || v < 0)
                throw Bad(path, $"tensor '{name}': shape {sh.GetRawText()} is not a list of non-negative integers");
            shape.Add(v);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad(path, $"tensor '{name}': data_offsets missing or malformed");
        long numel;
        try
        {
            numel = shape.Aggregate(1L, (a, b) => checked(a * b));
        }
        catch (OverflowException)
        {
            throw Bad(path, $"tensor '{name}': shape {sh.GetRawText()} overflows");
        }
        long expected = numel * info.Size;
        if (end - begin != expected)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] hold {end - begin} bytes, but {dtype} [{string.Join(", ", shape)}] needs {expected}");
        if (end > dataLength)
            throw Bad(path, $"tensor '{name}': data ends at byte {end} but the data section has only {dataLength} bytes (truncated file?)");
        return new SafeTensorInfo(name, dtype, shape.ToArray(), begin, end);
    }

    private static SafeTensorsException Bad(string path, string what) => new($"{path}: {what}");

    /// <summary>Reads one tensor into a new CPU tensor of the stored dtype and shape.</summary>
    public Tensor Read(string name)
    {
        if (!Tensors.TryGetValue(name, out var info)) throw Bad(Path, $"no tensor named '{name}'");
        var t = empty(info.Shape, DTypes[info.DType].Type);
        try
        {
            stream.Seek(dataStart + info.Begin, SeekOrigin.Begin);
            TensorBytes.Fill(t, stream);
            return t;
        }
        catch (EndOfStreamException)
        {
            t.Dispose();
            throw Bad(Path, $"tensor '{name}': file ended while reading its data (truncated?)");
        }
    }

    /// <summary>Reads every tensor (name → tensor); the caller owns them.</summary>
    public Dictionary<string, Tensor> ReadAll() => Tensors.Keys.ToDictionary(k => k, Read, StringComparer.Ordinal);

    public void Dispose() => stream.Dispose();

    /// <summary>Writes tensors (in the given order) and string metadata; atomic (temp file + rename).</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
        {
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long bytes = t.numel() * t.ElementSize;
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.dtype));
                w.WriteStartArray("shape");
                foreach (var d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < pad; i++) buffer.WriteByte((byte)' ');
        var header = buffer.ToArray();

        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            fs.Write(header);
            foreach (var (_, t) in list) TensorBytes.Write(t, fs);
        });
    }
}

/// <summary>Copies between tensors and streams in chunks (Span-based access is limited to 2 GB per call).</summary>
internal static class TensorBytes
{
    private const long ChunkElements = 1L << 26;

    public static void Write(Tensor t, Stream s)
    {
        using var scope = NewDisposeScope();
        var flat = t.detach().cpu().contiguous().reshape(-1);
        long n = flat.numel();
        for (long i = 0; i < n; i += ChunkElements)
        {
            using var part = flat.narrow(0, i, Math.Min(ChunkElements, n - i));
            s.Write(part.bytes);
        }
    }

    public static void Fill(Tensor t, Stream s)
    {
        using var scope = NewDisposeScope();
        var flat = t.reshape(-1); // t is a fresh contiguous CPU tensor: a view
        long n = flat.numel();
        for (long i = 0; i < n; i += ChunkElements)
        {
            using var part = flat.narrow(0, i, Math.Min(ChunkElements, n - i));
            s.ReadExactly(part.bytes);
        }
    }
}
