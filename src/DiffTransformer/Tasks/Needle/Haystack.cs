using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using DiffTransformer.Data;

namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// The noise the needles hide in: real text (any text files, folders or JSONL that <see cref="TextInputs"/> reads; the
/// documents joined by spaces, whitespace runs folded to one space so that a line break only ever starts a question) or
/// generated filler. Windows are drawn at random, starting at a token that begins a word.
/// </summary>
public sealed partial class Haystack
{
    private readonly string text;
    private readonly ConcurrentDictionary<string, (int[] Tokens, bool[] WordStart)> encoded = new(StringComparer.Ordinal);

    private Haystack(string source, string text)
    {
        if (text.Length == 0) throw new InvalidDataException($"the haystack {source} is empty: it holds no text");
        Source = source;
        this.text = text;
    }

    /// <summary>Where the text came from (for reports).</summary>
    public string Source { get; }

    /// <summary>Characters of text held.</summary>
    public int Length => text.Length;

    /// <summary>
    /// Real text from <paramref name="inputs"/> (JSONL: <paramref name="field"/>), at most <paramref name="maxChars"/>
    /// characters, read in order.
    /// </summary>
    public static Haystack FromFiles(IReadOnlyList<string> inputs, string field = "text", int maxChars = 16 << 20)
    {
        var sb = new StringBuilder();
        foreach (var doc in TextInputs.ReadDocuments(TextInputs.Resolve(inputs, TextInputs.DefaultGlobs), field))
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Whitespace().Replace(doc.Text, " ").Trim());
            if (sb.Length >= maxChars) break;
        }
        if (sb.Length > maxChars) sb.Length = maxChars;
        return new Haystack(string.Join(", ", inputs), sb.ToString());
    }

    /// <summary>
    /// Generated filler: sentences of common English words without digits, drawn from <paramref name="seed"/>; what the
    /// needle task uses when no corpus is given.
    /// </summary>
    public static Haystack Generated(long seed, int chars = 1 << 20)
    {
        var rng = new Random((int)(CounterHash.Hash((ulong)seed, 0x68617973) & 0x7FFFFFFF));
        var sb = new StringBuilder(chars + 64);
        while (sb.Length < chars)
        {
            int words = rng.Next(6, 16);
            for (int i = 0; i < words; i++)
            {
                string w = FillerWords[rng.Next(FillerWords.Length)];
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(i == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w);
            }
            sb.Append('.');
        }
        return new Haystack($"generated filler (seed {seed})", sb.ToString(0, chars));
    }

    /// <summary>The whole text's tokens under <paramref name="tokenizer"/>, encoded once per tokenizer.</summary>
    public int[] Tokens(ITokenizer tokenizer) => Encoded(tokenizer).Tokens;

    /// <summary>Whether token <paramref name="i"/> of <see cref="Tokens"/> begins a word (its text starts with a space).</summary>
    public bool StartsWord(ITokenizer tokenizer, int i) => Encoded(tokenizer).WordStart[i];

    /// <summary>
    /// <paramref name="length"/> consecutive tokens starting at a random word start. Refuses a length the text cannot
    /// fill, naming both.
    /// </summary>
    public int[] Window(ITokenizer tokenizer, int length, Random rng)
    {
        var (tokens, wordStart) = Encoded(tokenizer);
        if (length > tokens.Length)
            throw new InvalidDataException($"the haystack {Source} holds {tokens.Length:N0} {tokenizer.Name} tokens, fewer than the {length:N0} a document needs");
        int start = rng.Next(0, tokens.Length - length + 1);
        for (int s = start; s <= tokens.Length - length && s < start + 64; s++)
            if (wordStart[s]) { start = s; break; }
        return tokens[start..(start + length)];
    }

    private (int[] Tokens, bool[] WordStart) Encoded(ITokenizer tokenizer) => encoded.GetOrAdd(tokenizer.Name, _ =>
    {
        var tokens = tokenizer.Encode(text);
        var startsWithSpace = new Dictionary<int, bool>();
        var wordStart = new bool[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            if (!startsWithSpace.TryGetValue(tokens[i], out bool ws)) startsWithSpace[tokens[i]] = ws = tokenizer.Decode([tokens[i]]).StartsWith(' ');
            wordStart[i] = ws;
        }
        return (tokens, wordStart);
    });

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    private static readonly string[] FillerWords =
    [
        "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his",
        "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were",
        "we", "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
        "will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
        "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could",
        "people", "my", "than", "first", "water", "been", "call", "who", "oil", "its", "now", "find", "long", "down",
        "day", "did", "get", "come", "made", "may", "part", "river", "house", "garden", "letter", "mountain", "story",
    ];
}
