using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>Properties of the components and the two attention cores that need no reference fixture.</summary>
public sealed class ModelTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(0, 0.2)]
    [InlineData(1, 0.3555)]
    [InlineData(2, 0.4707)]
    [InlineData(5, 0.6661)]
    [InlineData(10, 0.7701)]
    public void LambdaInitFollowsDepth(int depth, double expected)
    {
        Assert.Equal(expected, DifferentialAttention.LambdaInitFor(depth), 4);
        using var attn = new DifferentialAttention(32, depth, 2);
        Assert.Equal(0.8 - 0.6 * Math.Exp(-0.3 * depth), attn.LambdaInit, 15);
    }

    [Fact]
    public void LambdaIsTheReparameterisedScalar()
    {
        manual_seed(5);
        using var attn = new DifferentialAttention(32, 3, 2);
        var p = attn.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        double Dot(string a, string b) => p[a].mul(p[b]).sum().item<float>();
        double expected = Math.Exp(Dot("lambda_q1", "lambda_k1")) - Math.Exp(Dot("lambda_q2", "lambda_k2")) + attn.LambdaInit;
        using var lam = attn.LambdaFull();
        Assert.Equal(expected, lam.item<float>(), 5);
        Assert.Equal(0, lam.dim());
    }

    [Theory]
    [InlineData(1536, 4096)]
    [InlineData(2048, 5461)]
    [InlineData(2560, 6827)]
    [InlineData(4096, 10923)]
    [InlineData(5120, 13653)]
    [InlineData(3072, 8192)]
    public void DefaultFfnWidthIsEightThirdsRounded(int e, int ffn) => Assert.Equal(ffn, ModelConfig.DefaultFfnDim(e));

    [Fact]
    public void EmbeddingInitialisationFollowsItsOwnStd()
    {
        var c = new ModelConfig { VocabSize = 300, EmbedDim = 64, NumLayers = 2, NumHeads = 2, InitStd = 0.05, EmbedInitStd = 1.0 };
        manual_seed(3);
        using var m = new LanguageModel(c);
        var p = m.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        double embStd = p["embed_tokens.weight"].std().item<float>(), qStd = p["layers.0.attn.q_proj.weight"].std().item<float>();
        double outStd = p["layers.0.attn.out_proj.weight"].std().item<float>();
        log.WriteLine($"embedding std {embStd:F4}, q_proj {qStd:F4}, out_proj {outStd:F4}");
        Assert.InRange(embStd, 0.95, 1.05);
        Assert.InRange(qStd, 0.045, 0.055);
        Assert.InRange(outStd, 0.05 / 2 * 0.9, 0.05 / 2 * 1.1);                    // 1/√(2L) = 1/2
        using var plain = new LanguageModel(c with { EmbedInitStd = null });
        Assert.InRange(plain.named_parameters().First(x => x.name == "embed_tokens.weight").parameter.std().item<float>(), 0.045, 0.055);
        Assert.Throws<ConfigException>(() => (c with { EmbedInitStd = -1 }).Validate());
    }

    [Fact]
    public void RmsNormMatchesItsFormula()
    {
        manual_seed(1);
        using var norm = new RMSNorm(8, 1e-5);
        using var scope = NewDisposeScope();
        using (no_grad()) norm.Weight.copy_(arange(Scalars.Of(1), Scalars.Of(9), Scalars.Of(1), dtype: ScalarType.Float32));
        var x = randn(3, 5, 8);
        var expected = x.div(x.pow(Scalars.Of(2)).mean([-1L], keepdim: true).add(Scalars.Of(1e-5), Scalars.Of(1)).sqrt()).mul(arange(Scalars.Of(1), Scalars.Of(9), Scalars.Of(1), dtype: ScalarType.Float32));
        TensorAssert.Close(log, "rmsnorm", norm.forward(x), expected, rtol: 1e-6, atol: 1e-6);
    }

    [Fact]
    public void RotaryIsInterleavedAndHonoursTheOffset()
    {
        using var rope = new RotaryEmbedding(8, 10000.0);
        using var scope = NewDisposeScope();
        manual_seed(2);
        var x = randn(2, 6, 3, 8);                                   // (B, T, nh, d)
        var y = rope.Apply(x, 0);
        // the formula, element by element, for one token and head
        var xa = x.data<float>().ToArray();
        var ya = y.data<float>().ToArray();
        int b = 1, t = 4, h = 2;
        for (int i = 0; i < 4; i++)
        {
            double ang = t * Math.Pow(10000.0, -2.0 * i / 8);
            int at = ((b * 6 + t) * 3 + h) * 8;
            double x0 = xa[at + 2 * i], x1 = xa[at + 2 * i + 1];
            Assert.Equal(x0 * Math.Cos(ang) - x1 * Math.Sin(ang), ya[at + 2 * i], 5);
            Assert.Equal(x1 * Math.Cos(ang) + x0 * Math.Sin(ang), ya[at + 2 * i + 1], 5);
        }
        // positions continue through the offset: rotating the tail alone at offset 2 equals the tail of the whole
        var tail = rope.Apply(x.narrow(1, 2, 4), 2);
        TensorAssert.Close(log, "rotary offset", tail, y.narrow(1, 2, 4), rtol: 0, atol: 1e-6);
        // and beyond the table's first size (it grows)
        var far = rope.Apply(x, 5000);
        Assert.False(far.isnan().any().item<bool>());
        TensorAssert.Close(log, "rotary norm kept", far.pow(Scalars.Of(2)).sum(-1), x.pow(Scalars.Of(2)).sum(-1), rtol: 1e-5, atol: 1e-6);
    }

    [Fact]
    public void RotaryTablesAreBuiltOnceAndGrowGeometrically()
    {
        using var rope = new RotaryEmbedding(8, 10000.0, initialLength: 16);
        using var scope = NewDisposeScope();
        var x = randn(1, 4, 2, 8);
        for (int i = 0; i < 10; i++) rope.Apply(x, i);
        Assert.Equal(1, rope.BuildCount);
        Assert.Equal(16, rope.CachedLength);
        for (int pos = 13; pos < 200; pos++) rope.Apply(x, pos);  // decoding one position at a time past the table
        Assert.Equal(16 * 16, rope.CachedLength);
        Assert.Equal(5, rope.BuildCount);                          // 16 → 32 → 64 → 128 → 256
    }

    public static TheoryData<Architecture, int?> ArchAndKv => new()
    {
        { Architecture.Diff, null }, { Architecture.Diff, 1 }, { Architecture.Transformer, null }, { Architecture.Transformer, 1 },
    };

    private static ModelConfig Small(Architecture arch, int? kv) => new()
    {
        Arch = arch, VocabSize = 50, EmbedDim = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, MaxSeqLen = 64,
    };

    [Theory]
    [MemberData(nameof(ArchAndKv))]
    public void ExplicitAndFusedCoresAgreeForwardAndBackward(Architecture arch, int? kv)
    {
        var cfg = Small(arch, kv);
        manual_seed(11);
        using var model = new LanguageModel(cfg);
        // larger weights than the default init, so that the maps are sharp and differences would show
        using (no_grad()) foreach (var p in model.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(8));
        using var scope = NewDisposeScope();
        var tokens = randint(0, cfg.VocabSize, [2, 37]);
        var targets = randint(0, cfg.VocabSize, [2, 37]);

        Dictionary<string, Tensor> Run(AttentionKernel k)
        {
            model.Kernel = k;
            model.zero_grad();
            var logits = model.Forward(tokens);
            LanguageModel.CrossEntropy(logits, targets).backward();
            var r = model.named_parameters().ToDictionary(x => x.name, x => x.parameter.grad!.clone());
            r["logits"] = logits.detach();
            return r;
        }
        var ex = Run(AttentionKernel.Explicit);
        var fu = Run(AttentionKernel.Fused);
        log.WriteLine($"{arch}, kv {kv?.ToString() ?? "MHA"}: |diff| ≤ 1e-5 · max|explicit| per tensor");
        foreach (var key in ex.Keys)
            TensorAssert.Close(log, key, fu[key], ex[key], rtol: 0, atol: 1e-5);
    }

    [Theory]
    [MemberData(nameof(ArchAndKv))]
    public void LaterTokensDoNotChangeEarlierOutputs(Architecture arch, int? kv)
    {
        var cfg = Small(arch, kv);
        manual_seed(12);
        using var model = new LanguageModel(cfg);
        using var scope = NewDisposeScope();
        var a = randint(0, cfg.VocabSize, [2, 20]);
        var b = a.clone();
        b[.., 13] = (b[.., 13] + 1) % cfg.VocabSize;                     // change token 13 only
        foreach (var k in new[] { AttentionKernel.Explicit, AttentionKernel.Fused })
        {
            model.Kernel = k;
            using var _ = no_grad();
            var la = model.Forward(a);
            var lb = model.Forward(b);
            double before = la.narrow(1, 0, 13).sub(lb.narrow(1, 0, 13)).abs().max().item<float>();
            double at = la.narrow(1, 13, 7).sub(lb.narrow(1, 13, 7)).abs().max().item<float>();
            log.WriteLine($"{arch} {k}: max change before t=13 {before:E2}, from t=13 on {at:E2}");
            Assert.True(before <= 1e-6, $"{k}: an earlier position changed by {before}");
            Assert.True(at > 1e-3, $"{k}: changing a token did not change its own output");
        }
    }

    [Fact]
    public void AttentionMapsAreCapturedAndCausal()
    {
        manual_seed(13);
        var cfg = Small(Architecture.Diff, null);
        using var model = new LanguageModel(cfg);
        using var scope = NewDisposeScope();
        using var capture = new AttentionCapture { Layers = new HashSet<int> { 1 } };
        var tokens = randint(0, cfg.VocabSize, [1, 10]);
        using (no_grad()) model.Forward(tokens, 0, capture);
        var m = Assert.Single(capture.Maps);
        Assert.Equal(1, m.Layer);
        Assert.Equal(new long[] { 1, 4, 10, 10 }, m.Probs!.shape);
        Assert.Equal(new long[] { 1, 2, 10, 10 }, m.Differential!.shape);
        TensorAssert.Close(log, "rows sum to 1", m.Probs.sum(-1), ones(1, 4, 10), rtol: 0, atol: 1e-6);
        Assert.Equal(0f, m.Probs.triu(1).abs().sum().item<float>());
        Assert.True(m.Logits!.triu(1).isneginf().logical_or(ones(10, 10, dtype: ScalarType.Bool).triu(1).logical_not()).all().item<bool>());
        // the differential map is A1 − λ·A2 with the layer's λ
        var pairs = m.Probs.view(1, 2, 2, 10, 10);
        var expected = pairs.select(2, 0).sub(pairs.select(2, 1).mul(Scalars.Of(m.Lambda!.Value)));
        TensorAssert.Close(log, "A1 − λ·A2", m.Differential, expected, rtol: 0, atol: 1e-6);
        // DIFF maps sum to 1 − λ per row
        TensorAssert.Close(log, "differential rows sum to 1 − λ", m.Differential.sum(-1), full(1, 2, 10, Scalars.Of(1 - m.Lambda!.Value)), rtol: 0, atol: 1e-5);
    }

    [Fact]
    public void TiedHeadSharesTheEmbedding()
    {
        manual_seed(14);
        var cfg = Small(Architecture.Diff, null) with { TieEmbeddings = true };
        using var model = new LanguageModel(cfg);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("lm_head", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        var tokens = tensor(new long[] { 1, 2, 3 }).view(1, 3);
        var logits = model.Forward(tokens);
        logits[0, 2, 40].backward();                                   // token 40 never appears in the input
        var g = model.EmbeddingWeight.grad!;
        Assert.True(g[40].abs().sum().item<float>() > 0, "the head's gradient did not reach the embedding row");
    }
}
