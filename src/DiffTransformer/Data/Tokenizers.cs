using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace DiffTransformer.Data;

/// <summary>
/// Text ⇄ token ids. Implementations are immutable and safe to call from several threads at once.
/// </summary>
public interface ITokenizer
{
    /// <summary>The name <see cref="Tokenizers.Create"/> knows it by (recorded in shard headers and meta.json).</summary>
    string Name { get; }

    /// <summary>Number of ids, i.e. one more than the largest id the tokenizer can produce (the model's vocab_size).</summary>
    int VocabSize { get; }

    /// <summary>The end-of-text id written after every document.</summary>
    int EndOfText { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> as ordinary text: special-token strings such as "&lt;|endoftext|&gt;" inside
    /// it are spelled out with ordinary tokens, never mapped to their special ids.
    /// </summary>
    int[] Encode(string text);

    /// <summary>
    /// Decodes ids to text. Special ids decode to their names (EOT → "&lt;|endoftext|&gt;"); byte sequences
    /// that are not valid UTF-8 become U+FFFD. Throws <see cref="ArgumentOutOfRangeException"/> for an id outside [0, VocabSize).
    /// </summary>
    string Decode(ReadOnlySpan<int> tokens);
}

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

/// <summary>One token per UTF-8 byte (ids 0–255) plus end-of-text (256).</summary>
public sealed class ByteTokenizer : ITokenizer
{
    public const int EndOfTextId = 256;
    private static readonly byte[] EotText = Encoding.UTF8.GetBytes("<|endoftext|>");

    public string Name => "byte";
    public int VocabSize => 257;
    public int EndOfText => EndOfTextId;

    public int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>(tokens.Length);
        foreach (int t in tokens)
        {
            if ((uint)t < 256) bytes.Add((byte)t);
            else if (t == EndOfTextId) bytes.AddRange(EotText);
            else throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id {t} is outside the byte tokenizer's range [0, {VocabSize})");
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}

/// <summary>A tiktoken BPE (gpt2, cl100k_base) from Microsoft.ML.Tokenizers, encoding special-token strings as plain text.</summary>
internal sealed class TiktokenTextTokenizer : ITokenizer
{
    private readonly TiktokenTokenizer tokenizer;
    private readonly Regex preTokenizer;
    private readonly string[] specialStrings;
    private readonly HashSet<int> specialIds;

    public TiktokenTextTokenizer(string name, TiktokenTokenizer tokenizer, Regex preTokenizer, int eotId)
    {
        Name = name;
        this.tokenizer = tokenizer;
        this.preTokenizer = preTokenizer;
        var specials = tokenizer.SpecialTokens ?? throw new InvalidOperationException($"{name}: tokenizer reports no special tokens");
        if (!specials.TryGetValue("<|endoftext|>", out int eot) || eot != eotId)
            throw new InvalidOperationException($"{name}: expected <|endoftext|> = {eotId}, the tokenizer has {(specials.TryGetValue("<|endoftext|>", out int e) ? e : "none")}");
        specialStrings = [.. specials.Keys];
        specialIds = [.. specials.Values];
        EndOfText = eotId;
        // The special tokens sit above every ordinary rank, so the largest one bounds the id range
        // (gpt2: 50257; cl100k_base: 100277, the same n_vocab tiktoken reports, with a few unused ids inside).
        VocabSize = specials.Values.Max() + 1;
    }

    public string Name { get; }
    public int VocabSize { get; }
    public int EndOfText { get; }

    public int[] Encode(string text)
    {
        if (!ContainsSpecialString(text)) return [.. tokenizer.EncodeToIds(text)];
        return EncodeOrdinary(text);
    }

    /// <summary>Pre-tokenizes with our own regex (which knows no special tokens) and BPE-encodes each piece alone.</summary>
    internal int[] EncodeOrdinary(string text)
    {
        var ids = new List<int>(text.Length / 3 + 16);
        foreach (ValueMatch m in preTokenizer.EnumerateMatches(text))
        {
            var piece = tokenizer.EncodeToIds(text.AsSpan(m.Index, m.Length), considerPreTokenization: false, considerNormalization: false);
            foreach (int id in piece)
            {
                // A pre-token is never a whole "<|...|>" string (the regex splits punctuation from letters), so the
                // library cannot have mapped it to a special id; check anyway rather than write a wrong shard.
                if (specialIds.Contains(id))
                    throw new InvalidOperationException($"{Name}: pre-token '{text.Substring(m.Index, m.Length)}' encoded to special id {id}");
                ids.Add(id);
            }
        }
        return [.. ids];
    }

    private bool ContainsSpecialString(string text)
    {
        if (!text.Contains("<|", StringComparison.Ordinal)) return false;
        foreach (var s in specialStrings)
            if (text.Contains(s, StringComparison.Ordinal)) return true;
        return false;
    }

    public string Decode(ReadOnlySpan<int> tokens)
    {
        var ids = tokens.ToArray();
        foreach (int t in ids)
            if ((uint)t >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id {t} is outside the {Name} tokenizer's range [0, {VocabSize})");
        return tokenizer.Decode(ids);
    }
}
