using DiffTransformer.Data;
// The built-in synthetic task of `difft train`: key→value recall among distractors, byte-level ASCII.
//
// Format (defaults: 12 pairs, 4 queries, 2-letter keys from "abcdefgh", 2-digit values, 6 filler words):
//
//     hf=62 dd=47 de=52 eh=65 d h dc=55 ec b cc=05 gh=43 ee=95 ah=94 dca cf=61 bc=64 dg=49 g | ee?95 dc?55 hf?62 dd?47
//     └───────── context: 12 pairs and 6 filler words, shuffled, one space apart ──────────┘   └───── 4 queries ─────┘
//
// (seed 1, train document 0). "ee?95": the value of ee in the context is 95; eh=65 is its planted near miss (key and
// value each one character off), de=52 an accidental one.
//
// Why this shape:
// - Only the answers carry learnable signal. Keys, values and filler are uniform random draws, so the loss on them
//   cannot fall below their entropy whatever the model does; the separators are trivially predictable. The one thing
//   that lowers the loss further is copying, at each "key?" of the query section, the value that followed "key=" in
//   the context: retrieval from context, the capability the paper credits DIFF attention with (multi-needle retrieval,
//   N needles and R queries — here Pairs and Queries).
// - Near misses punish attention spread over look-alikes: for each queried key, NearMisses distractor keys differ from
//   it in one character (ab vs. ad), and their values differ from its value in one character (17 vs. 14). Attention
//   split between the right pair and a near miss predicts the shared characters but not the whole value, so whole-
//   answer accuracy falls while per-character accuracy hides it. Small alphabets add accidental near misses too.
// - Filler words are drawn from the key alphabet: strings like keys without "=", so matching a key's characters alone
//   is not enough; the model must find "key=" exactly. They also vary the spacing, so pair positions are not periodic.
// - Values repeat across pairs (drawn with replacement): copying the value of a wrong pair is sometimes right by
//   chance, like a real haystack, and the first answer character alone does not identify the pair.
// - The query separator is "?" rather than "=": a one-token induction ("what followed '=' last time") cannot solve it;
//   the model has to match the key's characters. It also makes answers findable in the text, so RecallExample.Parse
//   recovers every span from the text alone and a dataset's val split doubles as the evaluation set.
// - Queries ask distinct keys in random order, independent of the pairs' order, so position gives nothing away; the
//   depth of the queried pair (0 = first pair, 1 = last) is recorded for depth-binned analysis as in the paper.
// - Plain ASCII, one byte token per character: character spans are token spans (shifted by the end-of-text token
//   that precedes every document in training and evaluation).
// - Short documents (≈ 100–130 bytes by default, under half of a 256-token context), so a training window placed at
//   random over the concatenated split always holds at least one whole document, whatever the trainer's sampler.
//
// Determinism: document i of stream s is a pure function of (seed, s, i) through a SplitMix64 sequence seeded by
// CounterHash, so any thread count, any order and any subset give the same documents.

namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// Generates key→value recall documents (format and rationale in this file's header). Immutable and thread-safe;
/// <see cref="Generate(long, RecallStream)"/> is a pure function of (options, seed, stream, index).
/// </summary>
public sealed class RecallTaskGenerator
{
    private const ulong Salt = 0x7265_6361_6C6C_7631UL;   // "recallv1": keeps this generator's draws apart from other uses of the seed
    private readonly string fillerAlphabet;

    /// <summary>Validates <paramref name="options"/> (throws <see cref="ArgumentException"/> naming the option at fault).</summary>
    public RecallTaskGenerator(RecallTaskOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        Seed = seed;
        fillerAlphabet = options.EffectiveFillerAlphabet;
    }

    public RecallTaskOptions Options { get; }
    public long Seed { get; }

    /// <summary>Document <paramref name="index"/> of <paramref name="stream"/>.</summary>
    public RecallExample Generate(long index, RecallStream stream = RecallStream.Train)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var o = Options;
        var rng = new SplitMix64(CounterHash.Hash((ulong)Seed ^ Salt, (ulong)stream, (ulong)index));

        // How many pairs this document has: Pairs, or a uniform draw from [MinPairs, Pairs] (a mixture of difficulties).
        int n = o.MinPairs is int min && min < o.Pairs ? min + rng.Below(o.Pairs - min + 1) : o.Pairs;
        int queryCount = Math.Min(o.Queries, n);

        // Keys: the queried ones first, then near misses of each in turn, then random others; all distinct.
        var keys = new List<string>(n);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var values = new List<string>(n);
        for (int q = 0; q < queryCount; q++)
        {
            keys.Add(NewKey(ref rng, used));
            values.Add(RandomString(ref rng, o.ValueAlphabet, o.ValueLength));
        }
        // Round-robin over the queried keys, so that a short document spreads its few near misses over its queries.
        for (int m = 0; m < o.NearMisses; m++)
        {
            for (int q = 0; q < queryCount && keys.Count < n; q++)
            {
                string? near = NearMissKey(ref rng, keys[q], used);
                if (near is null) continue;   // every one-character variant is taken already: a random key fills the place
                used.Add(near);
                keys.Add(near);
                values.Add(o.NearMissValues ? Vary(ref rng, values[q], o.ValueAlphabet) : RandomString(ref rng, o.ValueAlphabet, o.ValueLength));
            }
        }
        while (keys.Count < n)
        {
            keys.Add(NewKey(ref rng, used));
            values.Add(RandomString(ref rng, o.ValueAlphabet, o.ValueLength));
        }

        // Context items: pairs (non-negative ids) and filler words (−1), shuffled together.
        var items = new int[n + o.FillerWords];
        for (int i = 0; i < items.Length; i++) items[i] = i < n ? i : -1;
        Shuffle(ref rng, items);

        var text = new System.Text.StringBuilder((int)o.MaxDocumentLength);
        var pairs = new List<RecallPair>(n);
        var pairOfKey = new int[n];   // generation index → index in text order
        foreach (int item in items)
        {
            if (text.Length > 0) text.Append(' ');
            if (item < 0)
            {
                text.Append(RandomString(ref rng, fillerAlphabet, 1 + rng.Below(o.FillerMaxLength)));
                continue;
            }
            int keyStart = text.Length;
            text.Append(keys[item]).Append('=');
            int valueStart = text.Length;
            text.Append(values[item]);
            pairOfKey[item] = pairs.Count;
            pairs.Add(new RecallPair(keys[item], values[item], new IndexSpan(keyStart, o.KeyLength), new IndexSpan(valueStart, o.ValueLength)));
        }
        var context = new IndexSpan(0, text.Length);

        // Queries: the queried keys in an order of their own.
        var order = new int[queryCount];
        for (int q = 0; q < order.Length; q++) order[q] = q;
        Shuffle(ref rng, order);
        text.Append(" | ");
        var queries = new List<RecallQuery>(queryCount);
        foreach (int q in order)
        {
            if (queries.Count > 0) text.Append(' ');
            int keyStart = text.Length;
            text.Append(keys[q]).Append('?');
            int answerStart = text.Length;
            text.Append(values[q]);
            queries.Add(new RecallQuery(pairOfKey[q], new IndexSpan(keyStart, o.KeyLength), new IndexSpan(answerStart, o.ValueLength)));
        }
        return new RecallExample(text.ToString(), context, pairs, queries);
    }

    /// <summary>Documents [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of a stream.</summary>
    public IReadOnlyList<RecallExample> Generate(long start, int count, RecallStream stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var result = new RecallExample[count];
        for (int i = 0; i < count; i++) result[i] = Generate(start + i, stream);
        return result;
    }

    private string NewKey(ref SplitMix64 rng, HashSet<string> used)
    {
        // Options.Validate guarantees KeySpace ≥ Pairs, so an unused key exists; rejection sampling is quick unless the
        // space is nearly full, and then still bounded in expectation (coupon collector).
        while (true)
        {
            string k = RandomString(ref rng, Options.KeyAlphabet, Options.KeyLength);
            if (used.Add(k)) return k;
        }
    }

    /// <summary>An unused key differing from <paramref name="key"/> in one character, or null when all are used.</summary>
    private string? NearMissKey(ref SplitMix64 rng, string key, HashSet<string> used)
    {
        string alphabet = Options.KeyAlphabet;
        int variants = key.Length * (alphabet.Length - 1);
        // Visit the variants in a random order starting from a random one (stride coprime to the count).
        int first = rng.Below(variants);
        int stride = 1;
        for (int s = 1 + rng.Below(variants); s < 2 * variants + 1; s++)
            if (Gcd(s, variants) == 1) { stride = s; break; }
        Span<char> chars = stackalloc char[key.Length];
        for (int n = 0; n < variants; n++)
        {
            int v = (int)((first + (long)n * stride) % variants);
            int pos = v / (alphabet.Length - 1), choice = v % (alphabet.Length - 1);
            key.AsSpan().CopyTo(chars);
            int original = alphabet.IndexOf(key[pos]);
            chars[pos] = alphabet[choice >= original ? choice + 1 : choice];   // skip the original character
            string candidate = new(chars);
            if (!used.Contains(candidate)) return candidate;
        }
        return null;
    }

    /// <summary><paramref name="value"/> with one character replaced by a different one of the alphabet.</summary>
    private static string Vary(ref SplitMix64 rng, string value, string alphabet)
    {
        var chars = value.ToCharArray();
        int pos = rng.Below(chars.Length);
        int original = alphabet.IndexOf(chars[pos]);
        int choice = rng.Below(alphabet.Length - 1);
        chars[pos] = alphabet[choice >= original ? choice + 1 : choice];
        return new string(chars);
    }

    private static string RandomString(ref SplitMix64 rng, string alphabet, int length)
    {
        Span<char> chars = length <= 256 ? stackalloc char[length] : new char[length];
        for (int i = 0; i < length; i++) chars[i] = alphabet[rng.Below(alphabet.Length)];
        return new string(chars);
    }

    private static void Shuffle(ref SplitMix64 rng, Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = rng.Below(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a fixed, runtime-independent sequence, unlike System.Random's seeded algorithm.</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong state = state;

        public ulong Next()
        {
            ulong r = CounterHash.Mix(state);
            state += 0x9E3779B97F4A7C15UL;
            return r;
        }

        /// <summary>Uniform in [0, n) by multiply-shift (bias ≤ n / 2⁶⁴).</summary>
        public int Below(int n) => (int)Math.BigMul(Next(), (ulong)n, out _);
    }
}
