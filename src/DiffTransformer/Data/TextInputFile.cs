namespace DiffTransformer.Data;

/// <summary>One input file of a text corpus: plain text (one document) or JSONL (a document a line), possibly gzipped.</summary>
public sealed record TextInputFile(string Path, bool IsJsonl, bool IsGzip, long Length)
{
    /// <summary>Classifies <paramref name="path"/> by its name: .jsonl / .jsonl.gz are JSONL, .gz is decompressed.</summary>
    public static TextInputFile Describe(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        bool jsonl = name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);
        return new TextInputFile(path, jsonl, name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase), new FileInfo(path).Length);
    }
}
