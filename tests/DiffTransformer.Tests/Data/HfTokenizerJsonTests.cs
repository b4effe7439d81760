extern alias HfTokenizers;

using System.Text;
using System.Text.Json.Nodes;
using DiffTransformer.Data;
using Xunit.Abstractions;
using Hf = HfTokenizers::Tokenizers.DotNet;

namespace DiffTransformer.Tests.Data;

/// <summary>
/// tokenizer.json files: ours written by <see cref="HfTokenizerJson.Write"/> give, in Hugging Face's own tokenizers (the
/// Rust library, through Tokenizers.DotNet) and in <see cref="HfBpeTokenizer"/>, the ids our tokenizers give; files in
/// the shapes of GPT-2's and Llama 3's load and encode as Hugging Face encodes them; what cannot be read is refused by
/// file and field.
/// </summary>
public sealed class HfTokenizerJsonTests(ITestOutputHelper log) : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-tokjson-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    /// <summary>Texts that exercise pre-tokenization and the byte-level alphabet (no special-token strings).</summary>
    private static List<string> Samples()
    {
        var list = new List<string>
        {
            "", "hello the world", " héllo", "a\nb", "a\r\nb\n\n  c", "The year 2024: 1,234,567 people, I'm sure they'll've",
            "emoji 👩‍👩‍👧 and 中文字符 and ﷽", "tabs\tand\u00a0nbsp\u3000ideographic\u2028separator", "ALL CAPS DON'T", "   leading and trailing   ",
            "x" + new string(' ', 17) + "y", "combining e\u0301 and \ufeffBOM", "numbers 3.14159 and 007 and ١٢٣", "<html><b>tag</b></html>", "a\u0085b\vc\fd",
        };
        var rng = new Random(5);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 .,;:!?'\"-()[]\n\t éüßøñ中文ありがとう🙂";
        var elements = System.Globalization.StringInfo.GetTextElementEnumerator(alphabet);
        var units = new List<string>();
        while (elements.MoveNext()) units.Add((string)elements.Current);
        for (int i = 0; i < 200; i++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(1, 80);
            for (int j = 0; j < n; j++) sb.Append(units[rng.Next(units.Count)]);
            list.Add(sb.ToString());
        }
        return list;
    }

    [Theory]
    [InlineData("byte")]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    public void OurTokenizersWrittenAsTokenizerJsonEncodeAlikeInHuggingFaceAndBack(string name)
    {
        var ours = Tokenizers.Create(name);
        string path = Path.Combine(tmp, name + ".json");
        HfTokenizerJson.Write(ours, path);
        using var hf = new Hf.Tokenizer(path);
        var loaded = HfBpeTokenizer.Load(path);
        Assert.Equal(ours.VocabSize, loaded.VocabSize);
        Assert.Equal(ours.EndOfText, loaded.EndOfText);
        int same = 0;
        foreach (var s in Samples())
        {
            int[] want = ours.Encode(s);
            int[] fromHf = [.. hf.Encode(s).Select(x => (int)x)];
            Assert.True(want.SequenceEqual(fromHf), $"{name}: Hugging Face encodes \"{s}\" as [{string.Join(',', fromHf)}], ours as [{string.Join(',', want)}]");
            Assert.Equal(want, loaded.Encode(s));
            Assert.Equal(ours.Decode(want), loaded.Decode(want));
            same++;
        }
        log.WriteLine($"{name}: {same} texts encode alike in ours, Hugging Face tokenizers {hf.GetVersion()} and HfBpeTokenizer");
        Assert.Equal("<|endoftext|>", loaded.Decode([ours.EndOfText]));
    }

    [Fact]
    public void DerivedGpt2MergesAreGpt2sOwn()
    {
        var ranks = HfTokenizerJson.TiktokenRanks("gpt2");
        var merges = HfTokenizerJson.MergesFromRanks(ranks, "gpt2");
        Assert.Equal(50_000, merges.Count);                  // GPT-2's merges.txt: 50,000 merges over 256 bytes (+ <|endoftext|>)
        Assert.Equal(("Ġ", "t"), merges[0]);                 // its first line
        Assert.Equal(("Ġ", "a"), merges[1]);
        Assert.Equal(("h", "e"), merges[2]);
    }

    /// <summary>A tiny byte-level BPE in the shape of Llama 3's file (Split regex, then ByteLevel without its regex).</summary>
    private string TinyFile(string pre, bool ignoreMerges, IEnumerable<string>? extraTokens = null, Action<JsonObject>? edit = null)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.Encode([(byte)b])] = b;
        string[] merges = ["h e", "l l", "he ll", "hell o", "Ġ t", "Ġt h", "Ġth e", "w o", "wo r", "wor l", "worl d", "Ġ world"];
        int id = 256;
        foreach (var m in merges) vocab[m.Replace(" ", "")] ??= id++;
        foreach (var t in extraTokens ?? []) vocab[t] = id++;
        JsonNode ByteLevel(bool regex) => new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = regex };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = id, ["content"] = "<|end_of_text|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = pre == "gpt2" ? ByteLevel(true) : new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = pre }, ["behavior"] = "Isolated", ["invert"] = false },
                    ByteLevel(false)),
            },
            ["post_processor"] = null,
            ["decoder"] = ByteLevel(true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab, ["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)m)]),
            },
        };
        edit?.Invoke(root);
        string path = Path.Combine(tmp, Guid.NewGuid().ToString("N")[..8] + ".json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    [Theory]
    [InlineData("gpt2", false)]
    [InlineData(HfTokenizerJson.Cl100kPattern, false)]
    [InlineData(HfTokenizerJson.Cl100kPattern, true)]    // "xyz" is in the vocabulary but no merge makes it: whole only with ignore_merges
    [InlineData(@"\p{L}+", false)]                       // a regex that leaves gaps: Isolated keeps them as pieces
    public void FilesInTheShapesOfGpt2AndLlama3EncodeAsHuggingFaceDoes(string pre, bool ignoreMerges)
    {
        string path = TinyFile(pre, ignoreMerges, extraTokens: ignoreMerges ? ["xyz"] : null);
        using var hf = new Hf.Tokenizer(path);
        var ours = HfBpeTokenizer.Load(path);
        foreach (var s in Samples().Append("hello world the hello xyz"))
        {
            int[] want = [.. hf.Encode(s).Select(x => (int)x)];
            Assert.True(want.SequenceEqual(ours.Encode(s)), $"\"{s}\": Hugging Face [{string.Join(',', want)}], ours [{string.Join(',', ours.Encode(s))}]");
            Assert.Equal(s, ours.Decode(want));
        }
        Assert.Equal("<|end_of_text|>", ours.Decode([ours.EndOfText]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ours.Decode([ours.VocabSize]));
    }

    [Fact]
    public void Gpt2AndQwen2ConverterFieldsAreReadAsHuggingFaceReadsThem()
    {
        // transformers' converters write "" for the subword affixes, and Qwen 2 an NFC normalizer
        string path = TinyFile(HfTokenizerJson.Cl100kPattern, false, edit: root =>
        {
            root["model"]!["continuing_subword_prefix"] = "";
            root["model"]!["end_of_word_suffix"] = "";
            root["normalizer"] = JsonNode.Parse("{\"type\":\"NFC\"}");
        });
        using var hf = new Hf.Tokenizer(path);
        var ours = HfBpeTokenizer.Load(path);
        foreach (var s in Samples().Append("combining e\u0301 vs \u00e9, A\u030a"))
        {
            int[] want = [.. hf.Encode(s).Select(x => (int)x)];
            Assert.True(want.SequenceEqual(ours.Encode(s)), $"\"{s}\": Hugging Face [{string.Join(',', want)}], ours [{string.Join(',', ours.Encode(s))}]");
        }
    }

    [Theory]
    [InlineData("normalizer", "{\"type\":\"NFKC\"}", "normalizer is NFKC")]
    [InlineData("model.type", "\"WordPiece\"", "model.type is \"WordPiece\"")]
    [InlineData("model.byte_fallback", "true", "model.byte_fallback is true")]
    [InlineData("pre_tokenizer", "{\"type\":\"Metaspace\"}", "not a ByteLevel pre-tokenizer")]
    [InlineData("pre_tokenizer.add_prefix_space", "true", "pre_tokenizer.add_prefix_space is true")]
    [InlineData("decoder", "{\"type\":\"Metaspace\"}", "decoder is")]
    [InlineData("added_tokens", "[]", "no end-of-text token")]
    [InlineData("model.merges", "[\"h zz\"]", "model.merges[0] \"h zz\" names a token not in model.vocab")]
    public void WhatCannotBeReadIsRefusedNamingFileAndField(string field, string json, string message)
    {
        string path = TinyFile("gpt2", false, edit: root =>
        {
            var parts = field.Split('.');
            JsonObject target = root;
            foreach (var p in parts[..^1]) target = target[p]!.AsObject();
            target[parts[^1]] = JsonNode.Parse(json);
        });
        var e = Assert.Throws<InvalidDataException>(() => HfBpeTokenizer.Load(path));
        log.WriteLine(e.Message);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(message, e.Message);
    }
}
