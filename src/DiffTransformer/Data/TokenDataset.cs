using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffTransformer.Data;

/// <summary>One shard file of a split, as listed in meta.json.</summary>
public sealed record ShardMeta
{
    /// <summary>File name inside the dataset directory, e.g. "train_00000.bin".</summary>
    public required string File { get; init; }

    public required long Tokens { get; init; }
}

/// <summary>Counts and shard list of one split.</summary>
public sealed record SplitMeta
{
    public required long Documents { get; init; }

    /// <summary>Tokens including the end-of-text token after each document.</summary>
    public required long Tokens { get; init; }

    /// <summary>UTF-8 bytes of the documents' text (without separators).</summary>
    public required long Bytes { get; init; }

    public required IReadOnlyList<ShardMeta> Shards { get; init; }

    /// <summary>Text bytes per token (EOTs included); 0 for an empty split.</summary>
    [JsonIgnore] public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;
}

/// <summary>The dataset description, <c>meta.json</c> in the dataset directory (snake_case JSON).</summary>
public sealed record DatasetMeta
{
    public const string FormatName = "difft-tokens";
    public const int CurrentVersion = 1;
    public const string FileName = "meta.json";

    public string Format { get; init; } = FormatName;
    public int FormatVersion { get; init; } = CurrentVersion;
    public required string Tokenizer { get; init; }
    public required int VocabSize { get; init; }
    public required int EotId { get; init; }
    public required int TokenWidth { get; init; }

    /// <summary>Seed of the per-document validation draw (used when <see cref="ValFraction"/> selects).</summary>
    public required long Seed { get; init; }

    /// <summary>Probability of a document going to val; null when <see cref="ValWhere"/> selects instead.</summary>
    public double? ValFraction { get; init; }

    /// <summary>The --val-where expression, e.g. "year>=2000"; null when <see cref="ValFraction"/> selects.</summary>
    public string? ValWhere { get; init; }

    /// <summary>Shards are cut after this many tokens.</summary>
    public required long ShardTokens { get; init; }

    /// <summary>Human-readable description of the inputs.</summary>
    public required string Source { get; init; }

    public required DateTime CreatedUtc { get; init; }
    public required SplitMeta Train { get; init; }
    public required SplitMeta Val { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // a file, not HTML: keep ' < > readable
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses meta.json; <paramref name="source"/> names the file in error messages.</summary>
    public static DatasetMeta FromJson(string json, string source)
    {
        DatasetMeta? meta;
        try
        {
            meta = JsonSerializer.Deserialize<DatasetMeta>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}");
        }
        if (meta is null) throw new InvalidDataException($"{source}: empty dataset description");
        if (meta.Format != FormatName) throw new InvalidDataException($"{source}: format is '{meta.Format}', expected '{FormatName}'");
        if (meta.FormatVersion != CurrentVersion)
            throw new InvalidDataException($"{source}: unknown format_version {meta.FormatVersion}; this build reads version {CurrentVersion}");
        return meta;
    }
}

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

/// <summary>
/// A prepared dataset directory: <c>meta.json</c> plus shards <c>train_00000.bin</c>, …, <c>val_00000.bin</c>, ….
/// Opening checks every shard against the description; the shards stay memory-mapped until disposed.
/// </summary>
public sealed class TokenDataset : IDisposable
{
    private readonly List<TokenShard> opened;

    private TokenDataset(string directory, DatasetMeta meta, TokenSplit train, TokenSplit val, List<TokenShard> opened)
    {
        Directory = directory;
        Meta = meta;
        Train = train;
        Val = val;
        this.opened = opened;
    }

    public string Directory { get; }
    public DatasetMeta Meta { get; }
    public TokenSplit Train { get; }
    public TokenSplit Val { get; }

    /// <summary>"train" or "val".</summary>
    public TokenSplit Split(string name) => name switch
    {
        "train" => Train,
        "val" => Val,
        _ => throw new ArgumentException($"unknown split '{name}'; splits: train, val"),
    };

    /// <summary>The tokenizer the dataset was prepared with.</summary>
    public ITokenizer CreateTokenizer() => Tokenizers.Create(Meta.Tokenizer);

    public static TokenDataset Open(string directory)
    {
        string dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"dataset directory not found: {directory}");
        string metaPath = Path.Combine(dir, DatasetMeta.FileName);
        if (!File.Exists(metaPath)) throw new FileNotFoundException($"not a dataset directory (no {DatasetMeta.FileName}): {directory}", metaPath);
        var meta = DatasetMeta.FromJson(File.ReadAllText(metaPath), metaPath);
        if (meta.TokenWidth != Tokenizers.TokenWidth(meta.VocabSize))
            throw new InvalidDataException($"{metaPath}: token_width {meta.TokenWidth} does not fit vocab_size {meta.VocabSize}");
        var opened = new List<TokenShard>();
        try
        {
            var train = OpenSplit("train", meta.Train);
            var val = OpenSplit("val", meta.Val);
            return new TokenDataset(dir, meta, train, val, opened);
        }
        catch
        {
            foreach (var s in opened) s.Dispose();
            throw;
        }

        TokenSplit OpenSplit(string name, SplitMeta split)
        {
            var shards = new TokenShard[split.Shards.Count];
            long total = 0;
            for (int i = 0; i < shards.Length; i++)
            {
                var sm = split.Shards[i];
                if (sm.File.Length == 0 || Path.GetFileName(sm.File) != sm.File)
                    throw new InvalidDataException($"{metaPath}: {name} shard '{sm.File}' is not a plain file name");
                string path = Path.Combine(dir, sm.File);
                if (!File.Exists(path)) throw new FileNotFoundException($"{metaPath}: {name} shard {sm.File} is missing", path);
                var shard = TokenShard.Open(path);
                opened.Add(shard);
                var h = shard.Header;
                if (h.Tokenizer != meta.Tokenizer)
                    throw new InvalidDataException($"{path}: tokenizer '{h.Tokenizer}' in the shard header differs from '{meta.Tokenizer}' in {DatasetMeta.FileName}");
                if (h.VocabSize != meta.VocabSize || h.EndOfText != meta.EotId)
                    throw new InvalidDataException($"{path}: vocab size {h.VocabSize} / EOT {h.EndOfText} in the shard header differ from {meta.VocabSize} / {meta.EotId} in {DatasetMeta.FileName}");
                if (h.TokenCount != sm.Tokens)
                    throw new InvalidDataException($"{path}: shard holds {h.TokenCount:N0} tokens but {DatasetMeta.FileName} lists {sm.Tokens:N0}");
                shards[i] = shard;
                total += h.TokenCount;
            }
            if (total != split.Tokens)
                throw new InvalidDataException($"{metaPath}: {name} split lists {split.Tokens:N0} tokens but its shards hold {total:N0}");
            return new TokenSplit(name, split, shards);
        }
    }

    public void Dispose()
    {
        foreach (var s in opened) s.Dispose();
    }
}
