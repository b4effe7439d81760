using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace DiffTransformer.Data;

/// <summary>
/// A byte-level BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (GPT-2, Llama 3, Qwen 2, DiffLlama
/// checkpoints made from them, and ours from <see cref="HfTokenizerJson.Write"/>). Encoding follows the file's
/// pipeline: the pre-tokenizer's regex (ByteLevel's GPT-2 regex with <c>use_regex</c>, or a <c>Split</c> regex before a
/// ByteLevel without it), each piece's UTF-8 bytes in <see cref="ByteLevelAlphabet"/> characters, then the piece
/// whole when <c>ignore_merges</c> is set and the vocabulary holds it, else Microsoft.ML.Tokenizers' BPE over the file's
/// vocabulary and merges. Decoding maps ids to their tokens and the characters back to bytes (added tokens to their
/// text). Special-token strings in ordinary text are spelled out with ordinary tokens (<see cref="ITokenizer.Encode"/>),
/// where Hugging Face would map them to their ids. The regexes run on UTF-16 code units (.NET), Hugging Face's on code
/// points: a character outside the Basic Multilingual Plane next to a letter or digit can split differently.
/// <para>
/// Refused when loading, naming the file and the field: a model other than BPE, a normalizer other than NFC, a pre-tokenizer or decoder
/// other than the byte-level ones above, add_prefix_space, a non-empty continuing_subword_prefix / end_of_word_suffix, byte_fallback,
/// dropout, a vocabulary token outside the byte-level alphabet, a merge of tokens not in the vocabulary.
/// </para>
/// </summary>
public sealed class HfBpeTokenizer : ITokenizer
{
    /// <summary>The name every tokenizer read from a file goes by (its vocabulary is the file's, not a name's).</summary>
    public const string TokenizerName = "tokenizer.json";

    /// <summary>Added tokens taken as end-of-text, in this order of preference.</summary>
    public static IReadOnlyList<string> EndOfTextNames { get; } = ["<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<|im_end|>", "</s>", "<eos>"];

    /// <summary>The ByteLevel pre-tokenizer's regex (use_regex: true), GPT-2's.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer bpe;
    private readonly Regex? split;
    private readonly bool ignoreMerges;
    private readonly Dictionary<string, int> vocab;
    private readonly string[] tokenOf;
    private readonly Dictionary<int, string> added;
    private readonly bool nfc;

    private HfBpeTokenizer(JsonObject source, BpeTokenizer bpe, Regex? split, bool ignoreMerges, bool nfc, Dictionary<string, int> vocab,
                           Dictionary<int, string> added, int endOfText, string path)
    {
        this.nfc = nfc;
        Source = source;
        this.bpe = bpe;
        this.split = split;
        this.ignoreMerges = ignoreMerges;
        this.vocab = vocab;
        this.added = added;
        VocabSize = Math.Max(vocab.Values.Max(), added.Count == 0 ? 0 : added.Keys.Max()) + 1;
        tokenOf = new string[VocabSize];
        foreach (var (token, id) in vocab) tokenOf[id] = token;
        EndOfText = endOfText;
        Path = path;
    }

    public string Name => TokenizerName;
    public int VocabSize { get; }
    public int EndOfText { get; }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    /// <summary>The file's JSON (written back unchanged by <see cref="HfTokenizerJson.Write"/>).</summary>
    internal JsonObject Source { get; }

    /// <summary>Reads and checks <paramref name="path"/>; errors name the file and the field.</summary>
    public static HfBpeTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})");
        }
        InvalidDataException Bad(string what) => new($"{path}: {what}");
        string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        bool Flag(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue(out bool b) && b;

        if (root["model"] is not JsonObject model) throw Bad("no \"model\" object: not a Hugging Face tokenizer.json");
        if (Str(model["type"]) is not "BPE") throw Bad($"model.type is {model["type"]?.ToJsonString() ?? "missing"}; only byte-level BPE tokenizers are read");
        foreach (var field in new[] { "continuing_subword_prefix", "end_of_word_suffix", "dropout" })
            if (model[field] is JsonNode n && n.GetValueKind() != JsonValueKind.Null && !(field != "dropout" && Str(n) == ""))   // GPT-2's and Qwen 2's converters write ""
                throw Bad($"model.{field} is {n.ToJsonString()}: not supported");
        if (Flag(model, "byte_fallback")) throw Bad("model.byte_fallback is true (a SentencePiece-style BPE): only byte-level BPE tokenizers are read");
        bool nfc = false;
        if (root["normalizer"] is JsonNode norm && norm.GetValueKind() != JsonValueKind.Null)
        {
            if (Str(norm["type"]) == "NFC") nfc = true;                              // Qwen 2's
            else throw Bad($"normalizer is {Str(norm["type"]) ?? norm.ToJsonString()}: only none or NFC is read");
        }

        // Pre-tokenizer: ByteLevel (its regex or none), or Sequence [Split(regex, Isolated), ByteLevel(use_regex false)].
        Regex? split;
        JsonObject ByteLevel(JsonNode? n, string where)
        {
            if (n is not JsonObject o || Str(o["type"]) != "ByteLevel") throw Bad($"{where} is {n?.ToJsonString() ?? "missing"}, not a ByteLevel pre-tokenizer");
            if (Flag(o, "add_prefix_space")) throw Bad($"{where}.add_prefix_space is true: not supported");
            return o;
        }
        var pre = root["pre_tokenizer"] as JsonObject ?? throw Bad("no pre_tokenizer: only byte-level BPE tokenizers are read");
        if (Str(pre["type"]) == "Sequence")
        {
            var parts = pre["pretokenizers"] as JsonArray ?? throw Bad("pre_tokenizer.pretokenizers is missing");
            if (parts.Count != 2 || parts[0] is not JsonObject s || Str(s["type"]) != "Split")
                throw Bad($"pre_tokenizer is a Sequence of {parts.Count} ({string.Join(", ", parts.Select(p => Str(p?["type"])))}): only [Split, ByteLevel] is read");
            string pattern = Str(s["pattern"]?["Regex"]) ?? throw Bad("pre_tokenizer.pretokenizers[0].pattern has no Regex");
            if (Str(s["behavior"]) != "Isolated" || Flag(s, "invert")) throw Bad($"pre_tokenizer.pretokenizers[0]: behavior {s["behavior"]?.ToJsonString()}, invert {s["invert"]?.ToJsonString()}; only Isolated, not inverted, is read");
            if (Flag(ByteLevel(parts[1], "pre_tokenizer.pretokenizers[1]"), "use_regex")) throw Bad("pre_tokenizer.pretokenizers[1].use_regex is true after a Split: not supported");
            try
            {
                split = new Regex(pattern, RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                throw Bad($"pre_tokenizer.pretokenizers[0].pattern is not a regex .NET reads ({e.Message})");
            }
        }
        else
        {
            var o = ByteLevel(pre, "pre_tokenizer");
            split = o["use_regex"] is JsonValue v && v.TryGetValue(out bool r) && !r ? null : new Regex(Gpt2Pattern, RegexOptions.CultureInvariant);
        }
        if (Str(root["decoder"]?["type"]) != "ByteLevel") throw Bad($"decoder is {root["decoder"]?.ToJsonString() ?? "missing"}, not ByteLevel");

        // Vocabulary, merges, added tokens.
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        if (model["vocab"] is not JsonObject vocabObject) throw Bad("model.vocab is missing or not an object");
        foreach (var (token, idNode) in vocabObject)
        {
            if (idNode is not JsonValue iv || !iv.TryGetValue(out int id) || id < 0) throw Bad($"model.vocab[\"{token}\"] is {idNode?.ToJsonString()}, not a non-negative id");
            if (ByteLevelAlphabet.Decode(token) is null) throw Bad($"model.vocab token \"{token}\" (id {id}) has a character outside the byte-level alphabet");
            vocab[token] = id;
        }
        if (vocab.Count == 0) throw Bad("model.vocab is empty");
        var merges = new List<(string, string)>();
        if (model["merges"] is JsonArray mergeArray)
            foreach (var (m, i) in mergeArray.Select((m, i) => (m, i)))
            {
                (string, string) pair = m switch
                {
                    JsonValue mv when mv.TryGetValue(out string? text) && text.Split(' ') is [var l, var r] => (l, r),
                    JsonArray { Count: 2 } a when Str(a[0]) is string l && Str(a[1]) is string r => (l, r),
                    _ => throw Bad($"model.merges[{i}] is {m?.ToJsonString()}, not \"left right\" or [left, right]"),
                };
                if (!vocab.ContainsKey(pair.Item1) || !vocab.ContainsKey(pair.Item2) || !vocab.ContainsKey(pair.Item1 + pair.Item2))
                    throw Bad($"model.merges[{i}] \"{pair.Item1} {pair.Item2}\" names a token not in model.vocab");
                merges.Add(pair);
            }
        else if (model["merges"] is not null) throw Bad("model.merges is not an array");
        var added = new Dictionary<int, string>();
        if (root["added_tokens"] is JsonArray addedArray)
            foreach (var t in addedArray)
            {
                if (t?["id"] is not JsonValue idv || !idv.TryGetValue(out int id) || Str(t["content"]) is not string content)
                    throw Bad($"added_tokens entry {t?.ToJsonString()} has no id and content");
                added[id] = content;
            }
        int eot = -1;
        foreach (var name in EndOfTextNames)
            if (added.FirstOrDefault(kv => kv.Value == name) is { Value: not null } hit) { eot = hit.Key; break; }
        if (eot < 0) throw Bad($"no end-of-text token among its added_tokens (looked for {string.Join(", ", EndOfTextNames)})");

        var bpe = BpeTokenizer.Create(new BpeOptions(vocab.Select(kv => new KeyValuePair<string, int>(kv.Key, kv.Value)))
        {
            Merges = merges.Select(m => $"{m.Item1} {m.Item2}"),
        });
        return new HfBpeTokenizer(root, bpe, split, Flag(model, "ignore_merges"), nfc, vocab, added, eot, path);
    }

    public int[] Encode(string text)
    {
        if (nfc) text = text.Normalize(NormalizationForm.FormC);
        var ids = new List<int>(text.Length / 3 + 16);
        if (split is null) EncodePiece(text, ids);
        else
        {
            int at = 0;
            foreach (ValueMatch m in split.EnumerateMatches(text))
            {
                if (m.Index > at) EncodePiece(text[at..m.Index], ids);          // Isolated: text between matches is a piece too
                EncodePiece(text.Substring(m.Index, m.Length), ids);
                at = m.Index + m.Length;
            }
            if (at < text.Length) EncodePiece(text[at..], ids);
        }
        return [.. ids];
    }

    private void EncodePiece(string piece, List<int> ids)
    {
        if (piece.Length == 0) return;
        string chars = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(piece));
        if (ignoreMerges && vocab.TryGetValue(chars, out int whole))
        {
            ids.Add(whole);
            return;
        }
        foreach (int id in bpe.EncodeToIds(chars, considerPreTokenization: false, considerNormalization: false)) ids.Add(id);
    }

    public string Decode(ReadOnlySpan<int> tokens)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
        foreach (int t in tokens)
        {
            if (added.TryGetValue(t, out string? content))
            {
                Flush();
                text.Append(content);
            }
            else if ((uint)t < (uint)tokenOf.Length && tokenOf[t] is string token) bytes.AddRange(ByteLevelAlphabet.Decode(token)!);
            else throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id {t} is not in {Path}'s vocabulary (size {VocabSize})");
        }
        Flush();
        return text.ToString();
    }
}
