using DiffTransformer.Data;

namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// The sentences of the multi-needle task (the paper's protocol, after YOCO's multi_needle): a needle
/// "The magic number of {key} is {value}." hidden in the haystack, a question "What is the magic number of {key}? The
/// magic number of {key} is" at the end, and the answer " {value}." after it. Each piece is encoded on its own with a leading space and the
/// pieces' tokens concatenated, so that the value's tokens are known exactly whatever the tokenizer.
/// </summary>
public sealed record NeedleTemplate
{
    public const string KeySlot = "{key}";
    public const string ValueSlot = "{value}";

    /// <summary>The needle sentence: holds {key} before {value}.</summary>
    public string Needle { get; init; } = "The magic number of {key} is {value}.";

    /// <summary>
    /// The question: holds {key}, not {value}. The default asks, then begins the answer with the needle's words up to the
    /// value, as needle-in-a-haystack prompts do, so that a model answers by finding the key and copying what follows it.
    /// </summary>
    public string Question { get; init; } = "What is the magic number of {key}? The magic number of {key} is";

    /// <summary>Refuses templates without their slots; the message names the template and the slot.</summary>
    public NeedleTemplate Validate()
    {
        int k = Needle.IndexOf(KeySlot, StringComparison.Ordinal), v = Needle.IndexOf(ValueSlot, StringComparison.Ordinal);
        if (k < 0) throw new ArgumentException($"the needle template \"{Needle}\" has no {KeySlot}");
        if (v < 0) throw new ArgumentException($"the needle template \"{Needle}\" has no {ValueSlot}");
        if (v < k) throw new ArgumentException($"the needle template \"{Needle}\" must name {KeySlot} before {ValueSlot}");
        if (!Question.Contains(KeySlot, StringComparison.Ordinal)) throw new ArgumentException($"the question template \"{Question}\" has no {KeySlot}");
        if (Question.Contains(ValueSlot, StringComparison.Ordinal)) throw new ArgumentException($"the question template \"{Question}\" must not give away {ValueSlot}");
        return this;
    }

    /// <summary>
    /// The needle's tokens and where its value sits among them: " " + the text before {value} (trailing space moved to
    /// the value), the value, then the rest.
    /// </summary>
    public (int[] Tokens, int ValueStart, int ValueLength) EncodeNeedle(ITokenizer tokenizer, string key, string value)
    {
        int v = Needle.IndexOf(ValueSlot, StringComparison.Ordinal);
        string before = " " + Needle[..v].Replace(KeySlot, key, StringComparison.Ordinal);
        string after = Needle[(v + ValueSlot.Length)..];
        bool spaced = before.EndsWith(' ');
        var a = tokenizer.Encode(spaced ? before.TrimEnd(' ') : before);
        var b = EncodeValue(tokenizer, value, spaced);
        var c = after.Length == 0 ? [] : tokenizer.Encode(after);
        return ([.. a, .. b, .. c], a.Length, b.Length);
    }

    /// <summary>The question's tokens, with a leading line break: "\n" + question.</summary>
    public int[] EncodeQuestion(ITokenizer tokenizer, string key) => tokenizer.Encode("\n" + Question.Replace(KeySlot, key, StringComparison.Ordinal));

    /// <summary>The answer after a question, " {value}." (what training documents hold and a model should say).</summary>
    public int[] EncodeAnswer(ITokenizer tokenizer, string value) => tokenizer.Encode(" " + value + ".");

    private static int[] EncodeValue(ITokenizer tokenizer, string value, bool spaced) => tokenizer.Encode(spaced ? " " + value : value);
}
