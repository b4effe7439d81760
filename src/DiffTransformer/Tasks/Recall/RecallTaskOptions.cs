using System.Text.Json.Serialization;

namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// The shape and difficulty of the key→value recall task (see <see cref="RecallTaskGenerator"/> for the format).
/// Serialised with snake_case names (recall_task.json beside a synthetic dataset). Difficulty grows with
/// <see cref="Pairs"/>, <see cref="KeyLength"/>, <see cref="NearMisses"/> and <see cref="FillerWords"/>, and falls with
/// a larger <see cref="KeyAlphabet"/> (fewer accidental look-alike keys).
/// </summary>
public sealed record RecallTaskOptions
{
    /// <summary>Characters the format itself uses (separators); no alphabet may contain them.</summary>
    public const string ReservedCharacters = " =?|";

    /// <summary>Key→value pairs in each document's context (the paper's N needles).</summary>
    public int Pairs { get; init; } = 12;

    /// <summary>
    /// When set, each document draws its number of pairs uniformly from [MinPairs, <see cref="Pairs"/>] (and asks
    /// min(<see cref="Queries"/>, pairs) of them): a mixture of easy and hard documents. The easy ones give the gradient
    /// a foothold (with one pair, copying any value is right), which shortens the plateau before retrieval is learnt.
    /// Null: every document has <see cref="Pairs"/> pairs.
    /// </summary>
    public int? MinPairs { get; init; }

    /// <summary>Queries after the context, each asking a different key of the context (the paper's R).</summary>
    public int Queries { get; init; } = 4;

    /// <summary>Characters per key.</summary>
    public int KeyLength { get; init; } = 2;

    /// <summary>Characters per value (the answer the model must copy).</summary>
    public int ValueLength { get; init; } = 2;

    /// <summary>Characters keys are drawn from: printable ASCII, no repeats, none of <see cref="ReservedCharacters"/>.</summary>
    public string KeyAlphabet { get; init; } = "abcdefgh";

    /// <summary>Characters values are drawn from (same rules as <see cref="KeyAlphabet"/>).</summary>
    public string ValueAlphabet { get; init; } = "0123456789";

    /// <summary>
    /// Per queried key, how many distractor pairs get a key that differs from it in exactly one character and a value
    /// that differs from its value in one character (when <see cref="NearMissValues"/>). Random keys add more by chance.
    /// </summary>
    public int NearMisses { get; init; } = 1;

    /// <summary>Whether a near-miss distractor's value differs from the queried value in one character only (else it is random).</summary>
    public bool NearMissValues { get; init; } = true;

    /// <summary>Filler words shuffled in among the pairs: noise that must be ignored.</summary>
    public int FillerWords { get; init; } = 6;

    /// <summary>Filler words are 1 to this many characters long.</summary>
    public int FillerMaxLength { get; init; } = 3;

    /// <summary>Characters of filler words; null: <see cref="KeyAlphabet"/>, so that filler looks like keys without their "=".</summary>
    public string? FillerAlphabet { get; init; }

    /// <summary>The model's context in tokens: every document plus its end-of-text token must fit.</summary>
    public int ContextLength { get; init; } = 256;

    /// <summary>The filler alphabet in effect.</summary>
    [JsonIgnore] public string EffectiveFillerAlphabet => FillerAlphabet ?? KeyAlphabet;

    /// <summary>Characters of one pair or one query: key, separator, value.</summary>
    [JsonIgnore] public int ItemLength => KeyLength + 1 + ValueLength;

    /// <summary>The longest document the options allow, in characters (= byte tokens): context, " | ", queries.</summary>
    [JsonIgnore]
    public long MaxDocumentLength =>
        (long)Pairs * ItemLength + (long)FillerWords * FillerMaxLength + Math.Max(0L, (long)Pairs + FillerWords - 1) // context
        + 3                                                                                                        // " | "
        + (long)Queries * ItemLength + (Queries - 1);                                                              // queries

    /// <summary>Number of distinct keys the alphabet and length allow (saturates at long.MaxValue).</summary>
    [JsonIgnore] public long KeySpace => Power(KeyAlphabet.Length, KeyLength);

    /// <summary>Checks every option and that documents fit <see cref="ContextLength"/>; throws <see cref="ArgumentException"/> naming the option and value at fault.</summary>
    public RecallTaskOptions Validate()
    {
        static void AtLeast(string name, long value, long min)
        {
            if (value < min) throw new ArgumentException($"{name} must be at least {min}, got {value}");
        }
        AtLeast("pairs", Pairs, 1);
        AtLeast("queries", Queries, 1);
        AtLeast("key_length", KeyLength, 1);
        AtLeast("value_length", ValueLength, 1);
        AtLeast("near_misses", NearMisses, 0);
        AtLeast("filler_words", FillerWords, 0);
        AtLeast("filler_max_length", FillerMaxLength, 1);
        AtLeast("context_length", ContextLength, 2);
        if (MinPairs is int minPairs && (minPairs < 1 || minPairs > Pairs))
            throw new ArgumentException($"min_pairs must be between 1 and pairs ({Pairs}), got {minPairs}");
        if (Queries > Pairs) throw new ArgumentException($"queries ({Queries}) must not exceed pairs ({Pairs}): each query asks a different key of the context");
        CheckAlphabet("key_alphabet", KeyAlphabet);
        CheckAlphabet("value_alphabet", ValueAlphabet);
        if (FillerAlphabet is not null) CheckAlphabet("filler_alphabet", FillerAlphabet);

        if (KeySpace < Pairs)
            throw new ArgumentException(
                $"only {KeySpace} distinct keys of key_length {KeyLength} can be made from the {KeyAlphabet.Length} characters of key_alphabet \"{KeyAlphabet}\", fewer than pairs = {Pairs}; lengthen the keys or enlarge the alphabet");
        if (NearMisses > 0)
        {
            if (KeyAlphabet.Length < 2)
                throw new ArgumentException($"near_misses = {NearMisses} needs at least 2 characters in key_alphabet to vary a key, got \"{KeyAlphabet}\"");
            if (NearMissValues && ValueAlphabet.Length < 2)
                throw new ArgumentException($"near_miss_values needs at least 2 characters in value_alphabet to vary a value, got \"{ValueAlphabet}\" (or set near_miss_values to false)");
            long neighbours = (long)KeyLength * (KeyAlphabet.Length - 1);
            if (NearMisses > neighbours)
                throw new ArgumentException(
                    $"near_misses = {NearMisses} exceeds the {neighbours} keys that differ from a key in one character (key_length {KeyLength} × {KeyAlphabet.Length - 1} other characters)");
            long needed = (long)Queries * (1 + NearMisses);
            if (needed > Pairs)
                throw new ArgumentException(
                    $"queries × (1 + near_misses) = {Queries} × {1 + NearMisses} = {needed} pairs are needed for the queried keys and their near misses, more than pairs = {Pairs}");
        }

        long tokens = MaxDocumentLength + 1;   // + the end-of-text token between documents
        if (tokens > ContextLength)
            throw new ArgumentException(
                $"documents do not fit context_length {ContextLength}: the longest takes {MaxDocumentLength} characters + 1 end-of-text = {tokens} tokens, " +
                $"{tokens - ContextLength} too many; reduce pairs, filler_words, filler_max_length, queries or the key/value lengths, or raise context_length");
        return this;
    }

    private static void CheckAlphabet(string name, string alphabet)
    {
        if (alphabet.Length == 0) throw new ArgumentException($"{name} must not be empty");
        var seen = new HashSet<char>();
        foreach (char c in alphabet)
        {
            if (ReservedCharacters.Contains(c))
                throw new ArgumentException($"{name} \"{alphabet}\" contains '{c}', which the format reserves (reserved: \"{ReservedCharacters}\")");
            if (c is < '!' or > '~')
                throw new ArgumentException($"{name} \"{alphabet}\" contains U+{(int)c:X4}: only printable ASCII characters other than space are allowed (the task is byte-level text)");
            if (!seen.Add(c)) throw new ArgumentException($"{name} \"{alphabet}\" repeats '{c}'");
        }
    }

    private static long Power(long b, int e)
    {
        long r = 1;
        for (int i = 0; i < e; i++)
        {
            if (r > long.MaxValue / Math.Max(b, 1)) return long.MaxValue;
            r *= b;
        }
        return r;
    }

    /// <summary>One line naming every option, e.g. for meta.json's <c>source</c>.</summary>
    public string Describe() =>
        $"pairs={(MinPairs is int m && m < Pairs ? $"{m}-" : "")}{Pairs} queries={Queries} key_length={KeyLength} value_length={ValueLength} key_alphabet={KeyAlphabet} value_alphabet={ValueAlphabet} " +
        $"near_misses={NearMisses} near_miss_values={(NearMissValues ? "true" : "false")} filler_words={FillerWords} filler_max_length={FillerMaxLength} " +
        $"filler_alphabet={EffectiveFillerAlphabet} context_length={ContextLength}";
}
