using DiffTransformer.IO;

namespace DiffTransformer.Data;

/// <summary>
/// Writing a token dataset into a directory without ever removing what the writer did not write. The dataset is built
/// whole in a hidden sibling (<see cref="AtomicDirectory"/>) and then moved in. A directory that already holds a
/// dataset (a meta.json) is replaced only when forced, and then only that dataset's own files go — meta.json, the
/// shards it lists and the <see cref="DatasetMeta.ExtraFiles"/> it names; anything else in the directory stays. A
/// directory that is not empty and holds no dataset is refused, forced or not.
/// </summary>
public static class DatasetDirectory
{
    /// <summary>
    /// Checks, before anything is written, that a dataset may go to <paramref name="dir"/>; returns the dataset it would
    /// replace (null when the directory is absent or empty). <paramref name="forceName"/> is how the caller spells the
    /// force switch in messages (e.g. "--force").
    /// </summary>
    public static DatasetMeta? CheckTarget(string dir, bool force, string forceName)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (File.Exists(full)) throw new IOException($"dataset path exists and is a file: {full}");
        if (!Directory.Exists(full) || !Directory.EnumerateFileSystemEntries(full).Any()) return null;
        string metaPath = Path.Combine(full, DatasetMeta.FileName);
        if (!File.Exists(metaPath))
        {
            var example = Directory.EnumerateFileSystemEntries(full).Select(Path.GetFileName).Order(StringComparer.Ordinal).First();
            throw new IOException($"dataset directory is not empty and holds no dataset: {full} (it has '{example}', which a dataset writer did not write); " +
                                  $"choose a new or empty directory — {forceName} replaces only a dataset, never other files");
        }
        var old = DatasetMeta.FromJson(File.ReadAllText(metaPath), metaPath);
        foreach (var name in OwnedFiles(old))
            if (name.Length == 0 || name is "." or ".." || Path.GetFileName(name) != name || name.Contains('/') || name.Contains('\\'))
                throw new InvalidDataException($"{metaPath}: names the file '{name}', which is not a plain file name in the dataset directory; refusing to replace this dataset");
        if (!force)
            throw new IOException($"dataset directory is not empty: {full} holds a dataset ({old.Source}); pass {forceName} to replace it " +
                                  "(its meta.json, shards and the files its meta.json names are replaced; other files are kept)");
        return old;
    }

    /// <summary>The hidden sibling to build a dataset for <paramref name="dir"/> in.</summary>
    public static string CreateStaging(string dir, string purpose) => AtomicDirectory.CreateTempSibling(dir, purpose);

    /// <summary>
    /// Moves the complete dataset in <paramref name="staging"/> (meta.json written last into it) to <paramref name="dir"/>.
    /// When <paramref name="replaced"/> is the dataset found there by <see cref="CheckTarget"/>, its meta.json is removed
    /// first (so that a crash part-way leaves a directory that is plainly not a dataset rather than a mixed one), then its
    /// other files, then the new files are moved in with meta.json last; other entries of the directory are not touched.
    /// </summary>
    public static void Commit(string staging, string dir, DatasetMeta? replaced)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (Directory.Exists(full) && !Directory.EnumerateFileSystemEntries(full).Any()) Directory.Delete(full);
        if (!Directory.Exists(full))
        {
            Directory.Move(staging, full);
            return;
        }
        if (replaced is null)
            throw new IOException($"dataset directory {full} is no longer empty; nothing was replaced");   // it filled since CheckTarget
        var incoming = Directory.GetFiles(staging).Select(Path.GetFileName).OfType<string>().ToList();
        var owned = OwnedFiles(replaced).Union(incoming, StringComparer.Ordinal).ToList();
        File.Delete(Path.Combine(full, DatasetMeta.FileName));
        foreach (var name in owned.Where(n => n != DatasetMeta.FileName))
            File.Delete(Path.Combine(full, name));
        foreach (var name in incoming.Where(n => n != DatasetMeta.FileName))
            File.Move(Path.Combine(staging, name), Path.Combine(full, name));
        File.Move(Path.Combine(staging, DatasetMeta.FileName), Path.Combine(full, DatasetMeta.FileName));
        AtomicDirectory.TryDelete(staging);
    }

    /// <summary>The files a dataset consists of, by name: meta.json, every shard of both splits, and its extra files.</summary>
    public static IEnumerable<string> OwnedFiles(DatasetMeta meta) =>
        new[] { DatasetMeta.FileName }
            .Concat(meta.Train.Shards.Select(s => s.File))
            .Concat(meta.Val.Shards.Select(s => s.File))
            .Concat(meta.ExtraFiles ?? []);

    /// <summary>
    /// Writes a generated dataset into <paramref name="dir"/>: <paramref name="writeSplits"/> fills the train and val
    /// splits of a staging directory, the <paramref name="extraFiles"/> (name → text) are written beside them and named in
    /// meta.json, and the whole is committed as <see cref="Commit"/> does. Refuses what <see cref="CheckTarget"/> refuses.
    /// </summary>
    public static DatasetMeta WriteGenerated(string dir, bool force, string purpose, ITokenizer tokenizer, long seed, long shardTokens, string source,
        Func<string, (SplitMeta Train, SplitMeta Val)> writeSplits, IReadOnlyDictionary<string, string> extraFiles)
    {
        if (shardTokens < 1) throw new ArgumentException($"shard size must be positive, got {shardTokens} tokens");
        string outDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (Path.GetDirectoryName(outDir) is null) throw new ArgumentException($"the dataset directory cannot be a root directory: {outDir}");
        var replaced = CheckTarget(outDir, force, "force");
        string staging = CreateStaging(outDir, purpose);
        try
        {
            var (train, val) = writeSplits(staging);
            var meta = new DatasetMeta
            {
                Tokenizer = tokenizer.Name,
                VocabSize = tokenizer.VocabSize,
                EotId = tokenizer.EndOfText,
                TokenWidth = Tokenizers.TokenWidth(tokenizer.VocabSize),
                Seed = seed,
                ShardTokens = shardTokens,
                Source = source,
                CreatedUtc = DateTime.UtcNow,
                Train = train,
                Val = val,
                ExtraFiles = extraFiles.Count == 0 ? null : [.. extraFiles.Keys],
            };
            foreach (var (name, text) in extraFiles) AtomicFile.WriteAllText(Path.Combine(staging, name), text);
            AtomicFile.WriteAllText(Path.Combine(staging, DatasetMeta.FileName), meta.ToJson() + "\n");
            Commit(staging, outDir, replaced);
            return meta;
        }
        catch
        {
            AtomicDirectory.TryDelete(staging);
            throw;
        }
    }
}
