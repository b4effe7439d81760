using System.IO.Compression;
using System.Text;
using System.Text.Json;
using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "difft-data-tests", Guid.NewGuid().ToString("N"));

    public string this[string relative] => Path.Combine(Root, relative);

    public string WriteText(string relative, string text)
    {
        string path = this[relative];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    /// <summary>Writes JSONL lines (each an object), gzip-compressed when the name ends in .gz.</summary>
    public string WriteJsonl(string relative, IEnumerable<string> lines)
    {
        string path = this[relative];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var fs = File.Create(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(fs, CompressionLevel.Fastest) : fs;
        using var w = new StreamWriter(s, new UTF8Encoding(false));
        foreach (var l in lines) w.Write(l + "\n");
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Generated corpora and the reverse direction: a dataset's splits decoded back into documents.</summary>
internal static class Corpus
{
    /// <summary>Awkward documents: non-ASCII, emoji, CRLF, the special-token string, leading/trailing whitespace, JSON-ish quotes.</summary>
    public static readonly string[] Special =
    [
        "Grüße aus Köln — naïve café, 日本語のテキスト, Ελληνικά, עברית, emoji 😀👍🏽 and 𝐌𝐚𝐭𝐡.",
        "A document that mentions <|endoftext|> in the middle, and again at the end <|endoftext|>",
        "<|endoftext|>",
        "  leading and trailing whitespace\r\nwith CRLF lines\r\n\r\n\tand a tab  ",
        "quotes \" and backslashes \\ and a {\"json\": \"object\"} inside",
        "digits 1234567890 and 3.14159, contractions: it's we'll they've I'd",
        "x",
    ];

    /// <summary>Deterministic pseudo-random documents with words from several scripts.</summary>
    public static List<string> Random(int count, int seed)
    {
        string[] words = ["the", "quick", "brown", "fox", "jumps", "über", "façade", "東京", "données", "Ωmega", "🚀", "12", "345", "it's", "—", "\n", "  ", ".", ","];
        var rng = new Random(seed);
        var docs = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int n = rng.Next(1, 60);
            var sb = new StringBuilder();
            for (int j = 0; j < n; j++) sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(4) == 0 ? "" : " ");
            docs.Add(sb.ToString());
        }
        return docs;
    }

    /// <summary>JSONL line with the text and a year field.</summary>
    public static string JsonLine(string text, int year) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["year"] = year, ["text"] = text, ["other"] = "x" });

    /// <summary>The documents of a split: decode its tokens (all shards, concatenated), cut at every EOT.</summary>
    public static List<string> Documents(TokenSplit split, ITokenizer tokenizer)
    {
        var tokens = split.ToArray();
        var docs = new List<string>();
        int start = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] != tokenizer.EndOfText) continue;
            docs.Add(tokenizer.Decode(tokens.AsSpan(start, i - start)));
            start = i + 1;
        }
        Assert.Equal(tokens.Length, start);   // every document ends with EOT
        Assert.Equal(split.Documents, docs.Count);
        return docs;
    }

    public static void AssertSameMultiset(IEnumerable<string> expected, IEnumerable<string> actual)
    {
        Assert.Equal(expected.Order(StringComparer.Ordinal).ToList(), actual.Order(StringComparer.Ordinal).ToList());
    }
}
