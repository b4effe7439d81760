using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace DiffTransformer.Data;

/// <summary>The tokenizers the project knows by name.</summary>
public static partial class Tokenizers
{
    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["byte", "gpt2", "cl100k_base"];

    private static readonly ConcurrentDictionary<string, Lazy<ITokenizer>> Cache = new(StringComparer.Ordinal);

    /// <summary>
    /// The tokenizer called <paramref name="name"/>: "byte" (UTF-8 bytes, vocab 257, EOT 256), "gpt2" (GPT-2 BPE,
    /// vocab 50257, EOT 50256) or "cl100k_base" (vocab 100277, EOT 100257). Instances are shared, since the BPE
    /// tables take a second to load. Unknown names throw <see cref="ArgumentException"/> listing the known ones.
    /// </summary>
    public static ITokenizer Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Names.Contains(name, StringComparer.Ordinal))
            throw new ArgumentException($"unknown tokenizer '{name}'; known: {string.Join(", ", Names)}");
        return Cache.GetOrAdd(name, n => new Lazy<ITokenizer>(() => n switch
        {
            "byte" => new ByteTokenizer(),
            "gpt2" => new TiktokenTextTokenizer("gpt2", TiktokenTokenizer.CreateForModel("gpt2"), Gpt2Regex(), eotId: 50256),
            _ => new TiktokenTextTokenizer("cl100k_base", TiktokenTokenizer.CreateForEncoding("cl100k_base"), Cl100kRegex(), eotId: 100257),
        })).Value;
    }

    /// <summary>Bytes per token id in a shard: 2 when every id fits in 16 bits, else 4.</summary>
    public static int TokenWidth(int vocabSize) => vocabSize <= 65536 ? 2 : 4;

    // tiktoken's pre-tokenization patterns for r50k (GPT-2) and cl100k, in the form Microsoft.ML.Tokenizers 2.0 uses
    // (atomic groups; equivalent matches). We need our own copies only to split text that contains a special-token
    // string, because the library's pre-tokenizer would cut such strings out as special tokens. A test checks that
    // both paths give identical ids on text without special tokens.
    [GeneratedRegex(@"'(?:[sdmt]|ll|ve|re)| ?(?>\p{L}+)| ?(?>\p{N}+)| ?(?>[^\s\p{L}\p{N}]+)|(?>\s+)$|\s+(?!\S)|\s")]
    private static partial Regex Gpt2Regex();

    [GeneratedRegex(@"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)(?>\p{L}+)|(?>\p{N}{1,3})| ?(?>[^\s\p{L}\p{N}]+)(?>[\r\n]*)|(?>\s+)$|\s*[\r\n]|\s+(?!\S)|\s")]
    private static partial Regex Cl100kRegex();
}
