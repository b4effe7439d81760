using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace DiffTransformer.Data;

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

    /// <summary>The library's tokenizer: its special tokens, for writing a tokenizer.json.</summary>
    internal TiktokenTokenizer Inner => tokenizer;

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
