using System.Text.Json.Nodes;
using DiffTransformer.Interop;
using DiffTransformer.IO;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Interop;

/// <summary>
/// DIFF V1 models exported to DiffLlama (<see cref="DiffLlamaExport"/>): a checkpoint our reference script made comes
/// back from import → export with the same keys, shapes, dtypes, values and config; a model of ours with a trained-like
/// per-head norm survives export → import with its logits; shards follow save_pretrained's split; what DiffLlama cannot
/// hold is refused before anything is written.
/// </summary>
[Collection("serial")] // seeds and draws from the global torch generator
public sealed class DiffLlamaExportTests(ITestOutputHelper log) : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-export-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    private static string FixtureDir(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    [Theory]
    [InlineData("diffllama_tiny_gqa", "float32")]
    [InlineData("diffllama_tiny_mha", "float32")]
    [InlineData("diffllama_tiny_mha_bf16", "bfloat16")]
    public void AnImportedCheckpointExportsBackBitForBit(string name, string dtype)
    {
        string ours = Path.Combine(tmp, "ours"), back = Path.Combine(tmp, "back");
        DiffLlamaImport.Import(FixtureDir(name), ours);
        var result = DiffLlamaExport.Export(ours, back, dtype: dtype);
        Assert.Equal(["config.json", "model.safetensors"], result.Files);
        Assert.Contains(result.Notes, n => n.Contains("names no tokenizer", StringComparison.Ordinal));

        using var original = SafeTensorsFile.Open(Path.Combine(FixtureDir(name), "model.safetensors"));
        using var exported = SafeTensorsFile.Open(Path.Combine(back, "model.safetensors"));
        Assert.Equal("pt", exported.Metadata["format"]);
        Assert.Equal(original.Tensors.Keys.Order(StringComparer.Ordinal), exported.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var key in original.Tensors.Keys)
        {
            Assert.Equal(original.Tensors[key].DType, exported.Tensors[key].DType);
            Assert.Equal(original.Tensors[key].Shape, exported.Tensors[key].Shape);
            using var a = original.Read(key);
            using var b = exported.Read(key);
            Assert.True(a.equal(b).all().item<bool>(), $"{key} differs after import → export");
        }

        // The config: every field the fixture's generator writes, with the same value, except the token ids (the
        // fixture's are placeholders; a model without a tokenizer exports null).
        var want = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir(name), "config.json")))!.AsObject();
        var got = JsonNode.Parse(File.ReadAllText(Path.Combine(back, "config.json")))!.AsObject();
        Assert.Equal(want.Select(kv => kv.Key), got.Select(kv => kv.Key));      // the same keys, sorted alike
        foreach (var (key, value) in want)
        {
            if (key is "bos_token_id" or "eos_token_id") Assert.Null(got[key]);
            else Assert.True(JsonNode.DeepEquals(value, got[key]) || Number(value) == Number(got[key]), $"config.json {key}: {value?.ToJsonString()} vs {got[key]?.ToJsonString()}");
        }
    }

    private static double? Number(JsonNode? n) => n is JsonValue v && v.TryGetValue(out double x) ? x : null;

    [Theory]
    [InlineData(1, true)]     // GQA (ours Hkv 1 → K = 2), tied
    [InlineData(null, false)] // MHA, untied
    public void AModelOfOursSurvivesExportAndImport(int? kvHeads, bool tied)
    {
        var config = new ModelConfig { VocabSize = 61, EmbedDim = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = kvHeads, MaxSeqLen = 32, TieEmbeddings = tied };
        string ours = Path.Combine(tmp, "ours"), hf = Path.Combine(tmp, "hf"), back = Path.Combine(tmp, "back");
        manual_seed(7);
        using var model = new LanguageModel(config);
        using (no_grad())
            foreach (var (key, p) in model.named_parameters())
                if (key.EndsWith("subln.weight", StringComparison.Ordinal) || key.Contains("lambda_", StringComparison.Ordinal))
                    p.copy_(randn_like(p).mul(Scalars.Of(0.5)).add(Scalars.Of(key.Contains("subln", StringComparison.Ordinal) ? 1.0 : 0.0), Scalars.Of(1)));   // a learnt norm: not ones
        ModelStore.Save(model, ours);

        var result = DiffLlamaExport.Export(ours, hf);
        var hfConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!;
        Assert.Equal(4, hfConfig["num_attention_heads"]!.GetValue<int>());                         // both sub-heads counted
        Assert.Equal(2 * config.KvHeads, hfConfig["num_key_value_heads"]!.GetValue<int>());
        Assert.Equal(tied, hfConfig["tie_word_embeddings"]!.GetValue<bool>());
        using (var f = SafeTensorsFile.Open(Path.Combine(hf, "model.safetensors")))
            Assert.Equal(!tied, f.Tensors.ContainsKey("lm_head.weight"));
        Assert.Equal(ParameterLayout.Count(config) - (long)config.NumLayers * 2 * config.HeadDim, result.TensorBytes / 4);   // the subln weights are folded away

        DiffLlamaImport.Import(hf, back);
        using var imported = ModelStore.Load(back);
        using var scope = NewDisposeScope();
        var tokens = randint(0, config.VocabSize, [2, 12], dtype: ScalarType.Int64);
        using var _ = no_grad();
        var want = model.Forward(tokens);
        var got = imported.Forward(tokens);
        double diff = (got - want).abs().max().item<float>();
        log.WriteLine($"export → import: largest logit difference {diff:E2} (logits up to {want.abs().max().item<float>():F2})");
        TensorAssert.Close(log, "logits after export → import", got, want, rtol: 1e-5, atol: 1e-5);
        Assert.True(diff > 0 || config.NumLayers == 0, "the folded per-head norm should change float rounding somewhere");
    }

    [Fact]
    public void TheTokenizerTravelsBothWays()
    {
        var config = new ModelConfig { VocabSize = 257, EmbedDim = 16, NumLayers = 1, NumHeads = 2, MaxSeqLen = 32, TieEmbeddings = true };
        string ours = Path.Combine(tmp, "ours"), hf = Path.Combine(tmp, "hf"), back = Path.Combine(tmp, "back");
        using (var m = new LanguageModel(config)) ModelStore.Save(m, ours, tokenizer: "byte");
        var result = DiffLlamaExport.Export(ours, hf);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json"], result.Files);
        Assert.Empty(result.Notes);
        var hfConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!;
        Assert.Equal(256, hfConfig["eos_token_id"]!.GetValue<int>());
        Assert.Equal(256, hfConfig["bos_token_id"]!.GetValue<int>());

        var (_, notes) = DiffLlamaImport.Import(hf, back);
        Assert.Contains("257 ids, end of text 256 \"<|endoftext|>\"", Assert.Single(notes));
        Assert.Equal(ModelStore.TokenizerFile, ModelStore.LoadTokenizerName(back));
        using var generator = DiffTransformer.Inference.TextGenerator.Load(back);
        Assert.IsType<DiffTransformer.Data.HfBpeTokenizer>(generator.Tokenizer);
        Assert.Equal("héllo"u8.ToArray().Select(b => (int)b), generator.Tokenizer.Encode("héllo"));
        Assert.Contains("trained with the tokenizer 'tokenizer.json'",
                        Assert.Throws<ArgumentException>(() => DiffTransformer.Inference.TextGenerator.Load(back, tokenizer: "gpt2")).Message);

        // …and out again: the imported tokenizer.json is written back unchanged.
        string again = Path.Combine(tmp, "again");
        DiffLlamaExport.Export(back, again);
        Assert.Equal(File.ReadAllText(Path.Combine(hf, "tokenizer.json")), File.ReadAllText(Path.Combine(again, "tokenizer.json")));
    }

    [Fact]
    public void ASmallShardLimitSplitsAsSavePretrainedDoesAndImportsBack()
    {
        string ours = Path.Combine(tmp, "ours"), hf = Path.Combine(tmp, "hf"), back = Path.Combine(tmp, "back");
        DiffLlamaImport.Import(FixtureDir("diffllama_tiny_mha"), ours);
        const long limit = 8_000;                                        // the embedding (61·24·4 = 5,856 bytes) fits; two q_proj (2,304 each) do not
        var result = DiffLlamaExport.Export(ours, hf, maxShardBytes: limit);
        var shards = result.Files.Where(f => f.StartsWith("model-", StringComparison.Ordinal)).ToList();
        Assert.True(shards.Count > 2, $"{shards.Count} shards");
        Assert.Equal(shards.Select((_, i) => $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors"), shards);
        Assert.Contains("model.safetensors.index.json", result.Files);
        Assert.False(File.Exists(Path.Combine(hf, "model.safetensors")));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "model.safetensors.index.json")))!;
        Assert.Equal(result.TensorBytes, index["metadata"]!["total_size"]!.GetValue<long>());
        long sum = 0;
        foreach (var shard in shards)
        {
            using var f = SafeTensorsFile.Open(Path.Combine(hf, shard));
            long bytes = f.Tensors.Values.Sum(t => t.Shape.Aggregate(4L, (a, b) => a * b));
            Assert.True(bytes <= limit || f.Tensors.Count == 1, $"{shard}: {bytes} bytes in {f.Tensors.Count} tensors");
            foreach (var key in f.Tensors.Keys) Assert.Equal(shard, index["weight_map"]![key]!.GetValue<string>());
            sum += bytes;
        }
        Assert.Equal(result.TensorBytes, sum);

        DiffLlamaImport.Import(hf, back);
        using var f1 = SafeTensorsFile.Open(Path.Combine(ours, "model.safetensors"));
        using var f2 = SafeTensorsFile.Open(Path.Combine(back, "model.safetensors"));
        foreach (var key in f1.Tensors.Keys)
        {
            using var a = f1.Read(key);
            using var b = f2.Read(key);
            Assert.True(a.equal(b).all().item<bool>(), key);
        }
    }

    [Fact]
    public void WhatDiffLlamaCannotHoldIsRefusedBeforeAnythingIsWritten()
    {
        void Refused(ModelConfig config, string message)
        {
            string dir = Path.Combine(tmp, "m-" + Guid.NewGuid().ToString("N")[..8]), outDir = dir + "-hf";
            using (var m = new LanguageModel(config)) ModelStore.Save(m, dir);
            var e = Assert.Throws<ConfigException>(() => DiffLlamaExport.Export(dir, outDir));
            log.WriteLine(e.Message);
            Assert.Contains(dir, e.Message);
            Assert.Contains(message, e.Message);
            Assert.False(Directory.Exists(outDir));
            Assert.Empty(AtomicDirectory.Leftovers(tmp, "export"));
        }
        var tiny = new ModelConfig { VocabSize = 40, EmbedDim = 16, NumLayers = 1, NumHeads = 2, MaxSeqLen = 16 };
        Refused(tiny with { Arch = Architecture.Transformer }, "arch transformer cannot be exported");
        Refused(tiny with { Arch = Architecture.Diff2 }, "arch diff2 cannot be exported");
        Refused(tiny with { HeadNormEps = 1e-6 }, "head_norm_eps 1E-06 differs from norm_eps 1E-05");
        Refused(tiny with { Weights = WeightFormat.Int8 }, "its linear weights are int8");

        string ok = Path.Combine(tmp, "ok"), taken = Path.Combine(tmp, "taken");
        using (var m = new LanguageModel(tiny)) ModelStore.Save(m, ok);
        Directory.CreateDirectory(taken);
        File.WriteAllText(Path.Combine(taken, "keep.txt"), "x");
        Assert.Contains(taken, Assert.Throws<IOException>(() => DiffLlamaExport.Export(ok, taken)).Message);
        Assert.Contains("float64", Assert.Throws<ArgumentException>(() => DiffLlamaExport.Export(ok, Path.Combine(tmp, "x"), dtype: "float64")).Message);
        Assert.Contains("-1", Assert.Throws<ArgumentException>(() => DiffLlamaExport.Export(ok, Path.Combine(tmp, "x"), maxShardBytes: -1)).Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(taken).Select(Path.GetFileName));
    }
}
