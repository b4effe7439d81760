using DiffTransformer.Data;

namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// How an episode is written: after the end-of-text, each demonstration is <c>{text} → {name}\n</c>, and the query is
/// <c>{text} →</c>, which a label name then continues. Every piece is encoded on its own — the text, <c>" →"</c>,
/// <c>" {name}"</c>, <c>"\n"</c> — and the tokens concatenated, so that a name's tokens are the same in every position
/// and under any tokenizer (for the byte tokenizer this is the encoding of the whole string).
/// </summary>
public static class IclFormat
{
    /// <summary>The separator between a text and its label.</summary>
    public const string Arrow = "→";

    /// <summary>
    /// A tokenizer's encoding of the pieces, checked: refuses a label name (or the separator) that does not decode back
    /// to itself, naming it and the tokenizer.
    /// </summary>
    public static IclEncoding Encode(ITokenizer tokenizer, IclExampleSet set, IclTaskOptions options)
    {
        int[] Piece(string text, string what)
        {
            var tokens = tokenizer.Encode(text);
            string back = tokenizer.Decode(tokens);
            if (tokens.Length == 0 || back != text)
                throw new ArgumentException($"the tokenizer '{tokenizer.Name}' cannot encode {what}: \"{text}\" comes back as \"{back}\"");
            return tokens;
        }
        var arrow = Piece(" " + Arrow, "the separator");
        var newline = Piece("\n", "the line break");
        var names = options.LabelPool.Select(n => (int[])[.. Piece(" " + n, $"the label name \"{n}\""), .. newline]).ToArray();
        var texts = set.Examples.Select(e => tokenizer.Encode(e.Text)).ToArray();
        return new IclEncoding(tokenizer.EndOfText, texts, arrow, names);
    }
}
