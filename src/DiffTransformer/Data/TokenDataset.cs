namespace DiffTransformer.Data;

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
