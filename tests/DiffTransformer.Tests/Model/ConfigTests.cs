using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

public sealed class ConfigTests(ITestOutputHelper log)
{
    [Fact]
    public void ValidationNamesTheFieldAndBothValues()
    {
        var e = Assert.Throws<ConfigException>(() => new ModelConfig { EmbedDim = 500, NumHeads = 4 }.Validate());
        Assert.Equal("embed_dim 500 is not divisible by 2·num_heads = 8", e.Message);
        e = Assert.Throws<ConfigException>(() => new ModelConfig { EmbedDim = 96, NumHeads = 4, NumKvHeads = 3 }.Validate());
        Assert.Equal("num_heads 4 is not divisible by num_kv_heads 3", e.Message);
        e = Assert.Throws<ConfigException>(() => new ModelConfig { EmbedDim = 36, NumHeads = 2 }.Validate());
        Assert.Contains("9 must be even", e.Message);
        e = Assert.Throws<ConfigException>(() => new ModelConfig { NumLayers = 0 }.Validate());
        Assert.Equal("num_layers must be positive, got 0", e.Message);
        e = Assert.Throws<ConfigException>(() => new ModelConfig { VocabSize = -3 }.Validate());
        Assert.Equal("vocab_size must be positive, got -3", e.Message);
    }

    [Fact]
    public void JsonIsSnakeCaseAndRoundTrips()
    {
        var c = Presets.Get("small") with { Arch = Architecture.Transformer, NumKvHeads = 1 };
        string json = c.ToJson();
        Assert.Contains("\"embed_dim\": 384", json);
        Assert.Contains("\"arch\": \"transformer\"", json);
        Assert.Contains("\"num_kv_heads\": 1", json);
        Assert.Equal(c, ModelConfig.FromJson(json));
    }

    [Fact]
    public void JsonErrorsNameTheSourceAndField()
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("{\"embed_dim\": 64, \"num_head\": 2}", "my.json"));
        Assert.StartsWith("my.json:", e.Message);
        Assert.Contains("num_head", e.Message);
        e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("{\"embed_dim\": 500, \"num_heads\": 4}", "my.json"));
        Assert.Equal("my.json: embed_dim 500 is not divisible by 2·num_heads = 8", e.Message);
        e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("{\"arch\": \"mamba\"}", "my.json"));
        Assert.Contains("arch", e.Message);
    }

    [Fact]
    public void OverridesReplaceFieldsAndRefuseUnknownOnes()
    {
        var c = Presets.Get("tiny").WithOverrides([new("arch", "transformer"), new("num_layers", "3"), new("tie-embeddings", "false")]);
        Assert.Equal(Architecture.Transformer, c.Arch);
        Assert.Equal(3, c.NumLayers);
        Assert.False(c.TieEmbeddings);
        var e = Assert.Throws<ConfigException>(() => Presets.Get("tiny").WithOverrides([new("layers", "3")]));
        Assert.StartsWith("unknown config field 'layers'", e.Message);
        e = Assert.Throws<ConfigException>(() => Presets.Get("tiny").WithOverrides([new("embed_dim", "102")]));
        Assert.Equal("embed_dim 102 is not divisible by 2·num_heads = 4", e.Message);
    }

    [Fact]
    public void UnknownPresetListsTheKnownOnes()
    {
        var e = Assert.Throws<ConfigException>(() => Presets.Get("huge"));
        Assert.Contains("13.1B", e.Message);
    }

    /// <summary>An independent count, written from the architecture description rather than from ParameterLayout.</summary>
    private static long Formula(ModelConfig c)
    {
        long e = c.EmbedDim, f = c.FfnHidden, d = e / (2 * c.NumHeads), kvWidth = e * c.KvHeads / c.NumHeads;
        long attention = 2 * e * e + 2 * kvWidth * e + (c.Arch == Architecture.Diff ? 4 * d + 2 * d : 0);
        long block = attention + 3 * e * f + 2 * e;
        return c.NumLayers * block + e + (long)c.VocabSize * e * (c.TieEmbeddings ? 1 : 2);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    [InlineData("830M")]
    [InlineData("1.4B")]
    [InlineData("2.8B")]
    [InlineData("6.8B")]
    [InlineData("13.1B")]
    [InlineData("3B")]
    public void PresetCountsMatchTheFormula(string name)
    {
        foreach (var arch in new[] { Architecture.Diff, Architecture.Transformer })
        {
            var c = Presets.Get(name) with { Arch = arch };
            Assert.Equal(Formula(c), ParameterLayout.Count(c));
        }
        log.WriteLine($"{name}: {ParameterLayout.CountEmbeddingOnce(Presets.Get(name)):N0} (embedding once)");
    }

    [Theory]
    [InlineData("830M", 830e6)]
    [InlineData("1.4B", 1.4e9)]
    [InlineData("2.8B", 2.8e9)]
    [InlineData("6.8B", 6.8e9)]
    [InlineData("13.1B", 13.1e9)]
    public void PaperPresetsLandWithinTwoPercentOfTheirNames(string name, double nominal)
    {
        long n = ParameterLayout.CountEmbeddingOnce(Presets.Get(name));
        log.WriteLine($"{name}: {n:N0}, {100.0 * (n - nominal) / nominal:+0.00;-0.00}%");
        Assert.InRange(n, nominal * 0.98, nominal * 1.02);
    }

    [Fact]
    public void The3BPresetKeepsThePaperDimensionsAndIsReallyAbout3Point5B()
    {
        // E 3072, 28 layers, FFN 8192, vocabulary 100,288 as the paper lists them come to 3.48B with the
        // embedding counted once: the name is the paper's, the dimensions are not changed to fit it.
        long n = ParameterLayout.CountEmbeddingOnce(Presets.Get("3B"));
        Assert.Equal(3_479_175_168, n);
    }

    [Fact]
    public void DiffAndBaselineDifferOnlyByLambdaAndSubln()
    {
        var diff = Presets.Get("1.4B");
        var baseline = diff with { Arch = Architecture.Transformer };
        long d = diff.HeadDim;
        Assert.Equal(diff.NumLayers * (4 * d + 2 * d), ParameterLayout.Count(diff) - ParameterLayout.Count(baseline));
    }

    public static TheoryData<Architecture, bool, int?> Layouts => new()
    {
        { Architecture.Diff, false, null }, { Architecture.Diff, true, 1 },
        { Architecture.Transformer, false, 1 }, { Architecture.Transformer, true, null },
        { Architecture.Diff2, false, null }, { Architecture.Diff2, true, 1 },
    };

    [Theory]
    [InlineData("tiny", null)]
    [InlineData("small", null)]
    [InlineData("1.4B", null)]
    [InlineData("3B", null)]
    [InlineData("tiny", 1)]
    public void DiffV2IsParameterMatchedToTheBaselineWithinTheEmbeddingWidthPerLayer(string preset, int? kv)
    {
        var baseline = Presets.Get(preset) with { Arch = Architecture.Transformer, NumKvHeads = kv ?? Presets.Get(preset).NumKvHeads };
        var v2 = baseline with { Arch = Architecture.Diff2 };
        long gap = ParameterLayout.Count(v2) - ParameterLayout.Count(baseline);
        log.WriteLine($"{preset} kv {kv}: baseline {ParameterLayout.Count(baseline):N0}, V2 {ParameterLayout.Count(v2):N0} (SwiGLU +{v2.V2FfnWidening}), gap {gap:N0}");
        Assert.InRange(Math.Abs(gap), 0, (long)v2.NumLayers * v2.EmbedDim);
        Assert.True(v2.V2FfnWidening > 0);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void ArithmeticLayoutEqualsTheConstructedModel(Architecture arch, bool tied, int? kv)
    {
        var c = new ModelConfig { Arch = arch, TieEmbeddings = tied, NumKvHeads = kv, VocabSize = 40, EmbedDim = 32, NumLayers = 3, NumHeads = 2, FfnDim = 48 };
        using var model = new LanguageModel(c);
        var actual = model.named_parameters().Select(p => (p.name, string.Join(",", p.parameter.shape))).ToList();
        var expected = ParameterLayout.Model(c).Select(p => (p.Key, string.Join(",", p.Shape))).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(ParameterLayout.Count(c), model.parameters().Sum(p => p.numel()));
        Assert.Equal(actual.Select(a => a.name), model.state_dict().Keys);
    }

    [Fact]
    public void StateDictKeysArePinned()
    {
        // Approval test: the checkpoint format. Changing a key breaks every saved model; update deliberately.
        var c = new ModelConfig { VocabSize = 11, EmbedDim = 16, NumLayers = 1, NumHeads = 2, NumKvHeads = 1, FfnDim = 24 };
        using var model = new LanguageModel(c);
        var lines = model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]");
        Assert.Equal(
            """
            embed_tokens.weight [11, 16]
            layers.0.attn.k_proj.weight [8, 16]
            layers.0.attn.lambda_k1 [4]
            layers.0.attn.lambda_k2 [4]
            layers.0.attn.lambda_q1 [4]
            layers.0.attn.lambda_q2 [4]
            layers.0.attn.out_proj.weight [16, 16]
            layers.0.attn.q_proj.weight [16, 16]
            layers.0.attn.subln.weight [8]
            layers.0.attn.v_proj.weight [8, 16]
            layers.0.attn_norm.weight [16]
            layers.0.ffn.down_proj.weight [16, 24]
            layers.0.ffn.gate_proj.weight [24, 16]
            layers.0.ffn.up_proj.weight [24, 16]
            layers.0.ffn_norm.weight [16]
            lm_head.weight [11, 16]
            norm.weight [16]
            """.ReplaceLineEndings("\n"), string.Join("\n", lines));
    }

    [Fact]
    public void AttentionModuleHasExactlyTheAuthorsNineKeys()
    {
        using var attn = new DifferentialAttention(64, 0, 4, 2);
        Assert.Equal(
            ["k_proj.weight", "lambda_k1", "lambda_k2", "lambda_q1", "lambda_q2", "out_proj.weight", "q_proj.weight", "subln.weight", "v_proj.weight"],
            attn.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 32, 64 }, attn.state_dict()["k_proj.weight"].shape);
        Assert.Equal(new long[] { 16 }, attn.state_dict()["subln.weight"].shape);
    }

    [Fact]
    public void InitialisationFollowsTheConfig()
    {
        manual_seed(3);
        var c = new ModelConfig { VocabSize = 300, EmbedDim = 256, NumLayers = 8, NumHeads = 2, InitStd = 0.02 };
        using var model = new LanguageModel(c);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.Equal(0.02, p["layers.0.attn.q_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0.02 / 4, p["layers.0.attn.out_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0.1, p["layers.3.attn.lambda_q1"].std().item<float>(), 1);
        Assert.Equal(1f, p["layers.0.attn.subln.weight"].min().item<float>());
    }

    [Fact]
    public void SizesThatCannotBeAllocatedAreRefusedWithTheFigureAndAHugeContextAllocatesNothing()
    {
        var huge = new ModelConfig { VocabSize = 2_000_000, EmbedDim = 8192, NumLayers = 4, NumHeads = 64 };
        var e = Assert.Throws<ConfigException>(() => huge.CheckFits(24L << 30));
        Assert.StartsWith("the model needs 1", e.Message);
        Assert.Contains("more than the 24.0 GiB of memory available", e.Message);
        huge.CheckFits(1L << 42);                                                          // fits a 4 TiB machine
        var tinyLong = new ModelConfig { VocabSize = 257, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 1_000_000_000 };
        using var model = new LanguageModel(tinyLong);                                     // no table of 1e9 rows up front
        using var x = randint(0, 257, [1, 16]);
        using var y = model.Forward(x);
        Assert.Equal([1L, 16, 257], y.shape);
    }

    [Fact]
    public void AConfigFileMissingFieldsIsReportedAsMissingBeforeTheDefaultsAreValidated()
    {
        string dir = Directory.CreateTempSubdirectory("difft-config-").FullName;
        try
        {
            // embed_dim 100 with the default num_heads 2 gives an odd head dim: had the defaults been validated first,
            // the message would blame the head dim rather than name the fields the file lacks
            string path = Path.Combine(dir, "config.json");
            File.WriteAllText(path, """{ "vocab_size": 257, "embed_dim": 100 }""");
            var e = Assert.Throws<ConfigException>(() => ModelConfig.Load(path));
            Assert.StartsWith($"{path}: missing arch, num_layers, num_heads, max_seq_len, rope_theta, norm_eps, tie_embeddings, init_std;", e.Message);
            File.WriteAllText(path, """{ "vocab_size": 257, "embed_dim": 100, """);
            Assert.Contains(path, Assert.Throws<ConfigException>(() => ModelConfig.Load(path)).Message);   // a torn file is still named
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AConfigFileNamesEveryFieldAndMustAgreeWithTheWeights()
    {
        string dir = Directory.CreateTempSubdirectory("difft-config-").FullName;
        try
        {
            var c = new ModelConfig { VocabSize = 257, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 512 };
            manual_seed(1);
            using (var m = new LanguageModel(c)) ModelStore.Save(m, dir, "byte");
            string path = Path.Combine(dir, "config.json");
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            node.Remove("max_seq_len");
            node.Remove("num_kv_heads");                                                   // optional: null means MHA
            File.WriteAllText(path, node.ToJsonString());
            var e = Assert.Throws<ConfigException>(() => ModelStore.Load(dir));
            Assert.Equal($"{path}: missing max_seq_len; a config file names every field (`difft info --preset tiny --json` prints a complete one)", e.Message);
            node["max_seq_len"] = 256;
            File.WriteAllText(path, node.ToJsonString());
            e = Assert.Throws<ConfigException>(() => ModelStore.Load(dir));
            Assert.Equal($"{path} disagrees with the configuration recorded in {Path.Combine(dir, "model.safetensors")}: max_seq_len 256 (weights: 512)", e.Message);
            node["max_seq_len"] = 512;
            File.WriteAllText(path, node.ToJsonString());
            using var back = ModelStore.Load(dir);
            Assert.Equal(c, back.Config);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void HeadNormEpsIsOptionalAndReachesEverySubln()
    {
        string dir = Directory.CreateTempSubdirectory("difft-config-").FullName;
        try
        {
            var c = new ModelConfig { VocabSize = 31, EmbedDim = 16, NumLayers = 2, NumHeads = 2, MaxSeqLen = 32 };
            Assert.Null(c.HeadNormEps);
            Assert.Equal(1e-5, c.SublnEps);
            manual_seed(1);
            using (var m = new LanguageModel(c))
            {
                Assert.All(m.Layers, l => Assert.Equal(1e-5, ((DifferentialAttention)l.Attention).HeadNormEps));
                ModelStore.Save(m, dir, "byte");
            }
            string path = Path.Combine(dir, "config.json");
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            node.Remove("head_norm_eps");                                              // a config written before the field existed
            File.WriteAllText(path, node.ToJsonString());
            using (var back = ModelStore.Load(dir)) Assert.Equal(c, back.Config);

            var six = c with { HeadNormEps = 1e-6 };
            Assert.Equal(six, ModelConfig.FromJson(six.ToJson()));
            Assert.Equal(1e-6, c.WithOverrides([new("head_norm_eps", "1e-6")]).SublnEps);
            using (var m = new LanguageModel(six))
                Assert.All(m.Layers, l => Assert.Equal(1e-6, ((DifferentialAttention)l.Attention).HeadNormEps));
            var e = Assert.Throws<ConfigException>(() => (c with { HeadNormEps = 0 }).Validate());
            Assert.Equal("head_norm_eps must be positive, got 0", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
