using System.Text.Json.Nodes;
using DiffTransformer.Interop;
using DiffTransformer.IO;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Interop;

/// <summary>
/// Hugging Face DiffLlama checkpoints (reference/make_diffllama_fixtures.py) imported into our model give the logits
/// of our reference of HF's forward (reference/diffllama_ref.py); bad checkpoints are refused naming file and field or key.
/// </summary>
public sealed class DiffLlamaImportTests(ITestOutputHelper log) : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-diffllama-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    private static string FixtureDir(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    [Theory]
    [InlineData("diffllama_tiny_gqa", 1)]
    [InlineData("diffllama_tiny_mha", null)]
    [InlineData("diffllama_tiny_mha_sharded", null)]
    [InlineData("diffllama_tiny_mha_bf16", null)]
    public void ImportedModelGivesTheReferenceLogits(string name, int? kvHeads)
    {
        string outDir = Path.Combine(tmp, "out");
        var (config, notes) = DiffLlamaImport.Import(FixtureDir(name), outDir);
        log.WriteLine(string.Join("\n", notes));
        var hf = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir(name), "config.json")))!;
        Assert.Equal(2, config.NumHeads);                                          // N = 4 sub-heads: 2 pairs
        Assert.Equal(kvHeads, config.NumKvHeads);
        Assert.Equal(hf["rms_norm_eps"]!.GetValue<double>(), config.NormEps);
        Assert.Equal(hf["rms_norm_eps"]!.GetValue<double>(), config.HeadNormEps);
        Assert.Equal(hf["tie_word_embeddings"]!.GetValue<bool>(), config.TieEmbeddings);
        Assert.Null(ModelStore.LoadTokenizerName(outDir));

        using var f = Fixtures.Open(name + ".expected");
        using var model = ModelStore.Load(outDir);
        Assert.Equal(config, model.Config);
        using var scope = NewDisposeScope();
        foreach (var kernel in new[] { AttentionKernel.Blocked, AttentionKernel.Fused, AttentionKernel.Explicit })
        {
            model.Kernel = kernel;
            using var _ = no_grad();
            var logits = model.Forward(f.Read("input.tokens"));
            TensorAssert.Close(log, $"{name} logits ({kernel})", logits, f.Read("output.logits"));
        }
        for (int i = 0; i < config.NumLayers; i++)
            TensorAssert.Close(log, $"{name} lambda_full.{i}", ((DifferentialAttention)model.Layers[i].Attention).LambdaFull().reshape(1), f.Read($"output.lambda_full.{i}"));
    }

    [Fact]
    public void TheStateDictHasOurKeysAndSublnIsOnes()
    {
        var (config, state) = DiffLlamaImport.Load(FixtureDir("diffllama_tiny_gqa"));
        try
        {
            Assert.Equal(ParameterLayout.Model(config).Select(p => p.Key), state.Keys);
            Assert.All(state.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            Assert.True(state["layers.1.attn.subln.weight"].eq(Scalars.Of(1)).all().item<bool>());
            Assert.DoesNotContain("lm_head.weight", state.Keys);                    // tied
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    [Fact]
    public void ThePerPairNormNeedsTheCheckpointsEps()
    {
        // rms_norm_eps is 1e-6 in the mha fixture: a subln left at 1e-5 moves the logits by ~1.9e-3 (the generator's figure)
        var (config, state) = DiffLlamaImport.Load(FixtureDir("diffllama_tiny_mha"));
        using var f = Fixtures.Open("diffllama_tiny_mha.expected");
        using var model = new LanguageModel(config with { HeadNormEps = null });
        using (no_grad())
            foreach (var (k, t) in model.state_dict()) t.copy_(state[k]);
        foreach (var t in state.Values) t.Dispose();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double worst = model.Forward(f.Read("input.tokens")).sub(f.Read("output.logits")).abs().max().item<float>();
        log.WriteLine($"subln eps 1e-5 instead of 1e-6: max |diff| {worst:E2}");
        Assert.True(worst > 1e-4, $"{worst}");
    }

    [Theory]
    [InlineData("BF16")]
    [InlineData("F16")]
    public void HalfPrecisionIsConvertedToFloat32Exactly(string dtype)
    {
        var type = dtype == "BF16" ? ScalarType.BFloat16 : ScalarType.Float16;
        string dir = Copy("diffllama_tiny_mha");
        string weights = Path.Combine(dir, "model.safetensors");
        Rewrite(weights, sd =>
        {
            foreach (var k in sd.Keys.ToList()) sd[k] = sd[k].to_type(type);
        });
        using (var file = SafeTensorsFile.Open(weights)) Assert.All(file.Tensors.Values, t => Assert.Equal(dtype, t.DType));
        var (_, half) = DiffLlamaImport.Load(dir);
        var (_, full) = DiffLlamaImport.Load(FixtureDir("diffllama_tiny_mha"));
        foreach (var (k, t) in full)
        {
            var rounded = k.EndsWith("subln.weight", StringComparison.Ordinal) ? t : t.to_type(type).to_type(ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, half[k].dtype);
            Assert.True(half[k].equal(rounded).all().item<bool>(), $"{k} is not the {dtype} value upcast exactly");
        }
        foreach (var t in half.Values.Concat(full.Values)) t.Dispose();
    }

    [Fact]
    public void AMissingShardIsRefusedByName()
    {
        string dir = Copy("diffllama_tiny_mha_sharded");
        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        log.WriteLine(e.Message);
        Assert.StartsWith(Path.Combine(dir, "model.safetensors.index.json") + ": shard 'model-00002-of-00002.safetensors'", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void AKeyMissingFromTheShardTheIndexNamesIsRefused()
    {
        string dir = Copy("diffllama_tiny_mha_sharded");
        string index = Path.Combine(dir, "model.safetensors.index.json");
        var node = JsonNode.Parse(File.ReadAllText(index))!;
        node["weight_map"]!["model.norm.weight"] = "model-00001-of-00002.safetensors";
        File.WriteAllText(index, node.ToJsonString());
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        log.WriteLine(e.Message);
        Assert.Equal($"{Path.Combine(dir, "model-00001-of-00002.safetensors")}: no tensor 'model.norm.weight', which {index} places in it", e.Message);
    }

    [Fact]
    public void AMissingKeyIsRefusedNamingFileAndKey()
    {
        string dir = Copy("diffllama_tiny_mha");
        string weights = Path.Combine(dir, "model.safetensors");
        Rewrite(weights, sd => sd.Remove("model.layers.1.mlp.up_proj.weight"));
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        log.WriteLine(e.Message);
        Assert.StartsWith($"{weights}: missing key 'model.layers.1.mlp.up_proj.weight'", e.Message);

        string index = Path.Combine(Copy("diffllama_tiny_mha_sharded"), "model.safetensors.index.json");
        var node = JsonNode.Parse(File.ReadAllText(index))!;
        node["weight_map"]!.AsObject().Remove("lm_head.weight");
        File.WriteAllText(index, node.ToJsonString());
        e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(Path.GetDirectoryName(index)!));
        Assert.StartsWith($"{index}: missing key 'lm_head.weight'", e.Message);
    }

    [Fact]
    public void AWrongShapeIsRefusedNamingKeyAndShapes()
    {
        string dir = Copy("diffllama_tiny_gqa");
        string weights = Path.Combine(dir, "model.safetensors");
        Rewrite(weights, sd => sd["model.layers.0.self_attn.k_proj.weight"] = zeros(8, 32));
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        log.WriteLine(e.Message);
        Assert.Equal($"{weights}: key 'model.layers.0.self_attn.k_proj.weight' has shape [8, 32], config.json implies [16, 32]", e.Message);
    }

    [Fact]
    public void ATiedCheckpointMayStoreItsHeadOnlyAsACopyOfTheEmbedding()
    {
        string dir = Copy("diffllama_tiny_gqa");
        string weights = Path.Combine(dir, "model.safetensors");
        Rewrite(weights, sd => sd["lm_head.weight"] = sd["model.embed_tokens.weight"].clone());
        var (_, state) = DiffLlamaImport.Load(dir);
        Assert.DoesNotContain("lm_head.weight", state.Keys);
        foreach (var t in state.Values) t.Dispose();
        Rewrite(weights, sd => sd["lm_head.weight"] = sd["lm_head.weight"].mul(Scalars.Of(2)));
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        Assert.Equal($"{weights}: key 'lm_head.weight' differs from 'model.embed_tokens.weight', but config.json has tie_word_embeddings true", e.Message);
    }

    [Fact]
    public void AnUnexpectedKeyIsRefused()
    {
        string dir = Copy("diffllama_tiny_gqa");
        string weights = Path.Combine(dir, "model.safetensors");
        Rewrite(weights, sd => sd["model.layers.0.self_attn.q_proj.bias"] = zeros(32));
        var e = Assert.Throws<SafeTensorsException>(() => DiffLlamaImport.Load(dir));
        Assert.StartsWith($"{weights}: unexpected key 'model.layers.0.self_attn.q_proj.bias'", e.Message);
    }

    [Theory]
    [InlineData("model_type", "\"llama\"", "model_type is \"llama\", not \"diffllama\"")]
    [InlineData("architectures", "[\"DiffLlamaModel\"]", "architectures is [DiffLlamaModel], not DiffLlamaForCausalLM")]
    [InlineData("rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 2.0}", "rope_scaling is {\"rope_type\":\"linear\",\"factor\":2.0}: our rotary embedding has no scaling")]
    [InlineData("attention_bias", "true", "attention_bias is true: our attention has no biases")]
    [InlineData("num_key_value_heads", "1", "num_key_value_heads 1 is odd")]
    [InlineData("head_dim", "4", "head_dim 4 · num_attention_heads 4 = 16 ≠ hidden_size 24")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act is \"gelu\"")]
    [InlineData("rms_norm_eps", null, "missing rms_norm_eps")]
    [InlineData("max_position_embeddings", null, "missing max_position_embeddings")]
    [InlineData("num_hidden_layers", "2.5", "num_hidden_layers must be an integer, got 2.5")]
    public void AConfigWeCannotMapIsRefusedNamingFileAndField(string field, string? json, string message)
    {
        string dir = Copy("diffllama_tiny_mha");
        string path = Path.Combine(dir, "config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (json is null) node.Remove(field);
        else node[field] = JsonNode.Parse(json);
        File.WriteAllText(path, node.ToJsonString());
        var e = Assert.Throws<ConfigException>(() => DiffLlamaImport.Load(dir));
        log.WriteLine(e.Message);
        Assert.StartsWith($"{path}: {message}", e.Message);
        Assert.Throws<ConfigException>(() => DiffLlamaImport.Import(dir, Path.Combine(tmp, "never")));
        Assert.False(Directory.Exists(Path.Combine(tmp, "never")));
    }

    [Fact]
    public void ImportRefusesANonEmptyOutputAndReportsAnUnimportedTokenizer()
    {
        string dir = Copy("diffllama_tiny_gqa");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{\"model\": {}}");
        string outDir = Path.Combine(tmp, "out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "x");
        var e = Assert.Throws<IOException>(() => DiffLlamaImport.Import(dir, outDir));
        Assert.Contains(outDir, e.Message);
        File.Delete(Path.Combine(outDir, "keep.txt"));
        var (_, notes) = DiffLlamaImport.Import(dir, outDir);
        Assert.Contains("the tokenizer is not imported", Assert.Single(notes));
        Assert.Contains("model.type", notes[0]);                                    // why: the file's field at fault
        Assert.False(File.Exists(Path.Combine(outDir, ModelStore.TokenizerFile)));
        using var weights = SafeTensorsFile.Open(Path.Combine(outDir, ModelStore.WeightsFile));
        Assert.Equal("diffllama", weights.Metadata["imported_from"]);
    }

    /// <summary>A copy of a fixture checkpoint directory to edit.</summary>
    private string Copy(string name)
    {
        string dir = Path.Combine(tmp, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(FixtureDir(name))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    /// <summary>Reads a safetensors file, lets <paramref name="edit"/> change its tensors, and writes it back.</summary>
    private static void Rewrite(string path, Action<Dictionary<string, Tensor>> edit)
    {
        Dictionary<string, Tensor> sd;
        using (var f = SafeTensorsFile.Open(path)) sd = f.ReadAll();
        edit(sd);
        SafeTensorsFile.Save(path, sd.OrderBy(p => p.Key, StringComparer.Ordinal), new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var t in sd.Values) t.Dispose();
    }
}
