using DiffTransformer.Kernels;
using DiffTransformer.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>Incremental decoding with the KV cache against full forward passes over the same tokens.</summary>
public sealed class KvCacheTests(ITestOutputHelper log)
{
    internal static ModelConfig Tiny(Architecture arch, int? kv, int vocab = 50) => new()
    {
        Arch = arch, VocabSize = vocab, EmbedDim = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, MaxSeqLen = 64,
    };

    /// <summary>A tiny model with weights scaled up, so that the attention maps are sharp and mistakes show.</summary>
    internal static LanguageModel SharpModel(ModelConfig cfg, int seed)
    {
        manual_seed(seed);
        var model = new LanguageModel(cfg);
        using (no_grad()) foreach (var p in model.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(8));
        return model;
    }

    public static TheoryData<Architecture, int?, AttentionKernel, int> Cases()
    {
        var data = new TheoryData<Architecture, int?, AttentionKernel, int>();
        foreach (var arch in new[] { Architecture.Diff, Architecture.Transformer, Architecture.Diff2 })
            foreach (int? kv in new int?[] { null, 1 })
                foreach (var k in new[] { AttentionKernel.Explicit, AttentionKernel.Fused })
                    data.Add(arch, kv, k, arch == Architecture.Diff && kv is null ? 3 : 0);   // capacity 3: the prefill needs 9, then 18, then 36
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void IncrementalDecodingMatchesTheFullForward(Architecture arch, int? kv, AttentionKernel kernel, int capacity)
    {
        using var model = SharpModel(Tiny(arch, kv), 41);
        model.Kernel = kernel;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = randint(0, 50, [2, 30]);
        var full = model.Forward(tokens);                                             // (B, T, V)

        // prefill 9, one at a time to 15, a chunk of 6 (several queries over a cached prefix), then one at a time
        using var cache = model.CreateCache(capacity);
        var pieces = new List<Tensor>();
        foreach (var (from, len) in new[] { (0, 9) }.Concat(Enumerable.Range(9, 6).Select(i => (i, 1))).Append((15, 6)).Concat(Enumerable.Range(21, 9).Select(i => (i, 1))))
        {
            Assert.Equal(from, cache.Length);
            pieces.Add(model.Forward(tokens.narrow(1, from, len), cache));
        }
        var incremental = cat(pieces, 1);
        Assert.Equal(30, cache.Length);
        double worst = incremental.sub(full).abs().max().item<float>();
        double scale = full.abs().max().item<float>();
        log.WriteLine($"{arch} kv {kv?.ToString() ?? "MHA"} {kernel} capacity {capacity}: max|logit| {scale:F2}, worst |cached − full| {worst:E2}, allocations {cache[0].Allocations}");
        Assert.True(worst <= 1e-4, $"cached logits differ from the full forward by {worst:E3}");
        if (capacity == 3)
        {
            Assert.Equal(36, cache[0].Capacity);       // 9 for the prefill, doubled twice: not one allocation per token
            Assert.Equal(3, cache[0].Allocations);
        }
        else
        {
            Assert.Equal(1, cache[0].Allocations);
        }
    }

    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, 1)]
    public void TheCacheHoldsTheDocumentedLayout(Architecture arch, int? kv)
    {
        var cfg = Tiny(arch, kv);
        using var model = SharpModel(cfg, 42);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var cache = model.CreateCache(16);
        model.Forward(randint(0, 50, [3, 5]), cache);
        int d = cfg.HeadDim, hkv = cfg.KvHeads;
        var (keys, values) = (cache[1].Keys!, cache[1].Values!);
        Assert.Equal(new long[] { 3, 2 * hkv, 5, d }, keys.shape);
        Assert.Equal(arch == Architecture.Diff ? new long[] { 3, hkv, 5, 2 * d } : new long[] { 3, 2 * hkv, 5, d }, values.shape);
        Assert.Equal(16, cache[1].Capacity);
        Assert.Equal(2 * (3L * 2 * hkv * 16 * d + 3L * (arch == Architecture.Diff ? hkv * 2 * d : 2 * hkv * d) * 16) * 4, cache.AllocatedBytes);
    }

    [Fact]
    public void CachedKeysAreTheRotatedKeysOfTheFullForward()
    {
        // Layer 0's cached keys at position 4 equal the rotated projection of token 4 computed from scratch.
        var cfg = Tiny(Architecture.Diff, null);
        using var model = SharpModel(cfg, 43);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = randint(0, 50, [1, 6]);
        using var cache = model.CreateCache();
        model.Forward(tokens.narrow(1, 0, 3), cache);
        model.Forward(tokens.narrow(1, 3, 3), cache);
        var attn = (DifferentialAttention)model.Layers[0].Attention;
        var h = model.EmbeddingWeight.index_select(0, tokens.view(-1)).unsqueeze(0);                  // (1, 6, E)
        var normed = ((RMSNorm)model.Layers[0].named_children().First(c => c.name == "attn_norm").module).forward(h);
        var k = attn.KProj.forward(normed).view(1, 6, 2 * cfg.KvHeads, cfg.HeadDim);                  // (1, 6, 2Hkv, d)
        var rotated = attn.Rotary.Apply(k, 0).transpose(1, 2);                                        // (1, 2Hkv, 6, d)
        TensorAssert.Close(log, "cached keys", cache[0].Keys!, rotated, rtol: 0, atol: 1e-6);
    }

    [Theory]
    [InlineData(Architecture.Diff, null, AttentionKernel.Fused)]
    [InlineData(Architecture.Diff, 1, AttentionKernel.Explicit)]
    [InlineData(Architecture.Transformer, 1, AttentionKernel.Fused)]
    [InlineData(Architecture.Transformer, null, AttentionKernel.Explicit)]
    public void LeftPaddedRowsMatchTheirUnpaddedRuns(Architecture arch, int? kv, AttentionKernel kernel)
    {
        using var model = SharpModel(Tiny(arch, kv), 44);
        model.Kernel = kernel;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int[] lengths = [7, 3, 5];
        long p = lengths.Max();
        var rows = lengths.Select(n => randint(0, 50, [1, n + 6])).ToArray();     // prompt + 6 continuation tokens each
        var padded = zeros([3, p + 6], dtype: ScalarType.Int64);
        for (int i = 0; i < 3; i++) padded[i, TensorIndex.Slice(p - lengths[i])] = rows[i][0];
        using var cache = model.CreateCache(leftPadding: lengths.Select(n => p - n).ToArray());
        var outs = new List<Tensor> { model.Forward(padded.narrow(1, 0, p), cache) };
        for (int j = 0; j < 6; j++) outs.Add(model.Forward(padded.narrow(1, p + j, 1), cache));
        var batched = cat(outs, 1);                                                 // (3, P + 6, V)
        for (int i = 0; i < 3; i++)
        {
            var alone = model.Forward(rows[i]);                                     // (1, n + 6, V)
            var mine = batched[i].narrow(0, p - lengths[i], lengths[i] + 6).unsqueeze(0);
            double worst = mine.sub(alone).abs().max().item<float>();
            log.WriteLine($"{arch} {kernel} row {i} (prompt {lengths[i]}, padding {p - lengths[i]}): worst |padded − alone| {worst:E2}");
            Assert.True(worst <= 1e-4, $"row {i}: padded logits differ by {worst:E3}");
        }
    }

    [Fact]
    public void CaptureWithACacheRecordsMapsOverAllKeys()
    {
        var cfg = Tiny(Architecture.Diff, null);
        using var model = SharpModel(cfg, 45);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = randint(0, 50, [1, 12]);
        using var fullCapture = new AttentionCapture { Layers = new HashSet<int> { 1 } };
        model.Forward(tokens, 0, fullCapture);
        using var cache = model.CreateCache();
        model.Forward(tokens.narrow(1, 0, 8), cache);
        using var capture = new AttentionCapture { Layers = new HashSet<int> { 1 } };
        model.Forward(tokens.narrow(1, 8, 4), 8, capture, cache);                    // 4 queries over 12 keys
        var m = Assert.Single(capture.Maps);
        Assert.Equal(new long[] { 1, 4, 4, 12 }, m.Probs!.shape);
        var expected = fullCapture.Maps[0];
        TensorAssert.Close(log, "probs of the last 4 rows", m.Probs, expected.Probs!.narrow(2, 8, 4), rtol: 0, atol: 1e-5);
        TensorAssert.Close(log, "differential", m.Differential!, expected.Differential!.narrow(2, 8, 4), rtol: 0, atol: 1e-5);
        Assert.True(m.Logits!.narrow(2, 0, 1).narrow(3, 9, 3).isneginf().all().item<bool>(), "query at position 8 must not see keys 9–11");
    }

    [Fact]
    public void AMismatchedStartOrModelIsRefused()
    {
        using var model = SharpModel(Tiny(Architecture.Diff, null), 46);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var cache = model.CreateCache();
        model.Forward(randint(0, 50, [1, 4]), cache);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(randint(0, 50, [1, 1]), 2, null, cache));
        Assert.Contains("startPos 2", e.Message);
        Assert.Contains("length 4", e.Message);
        var b = Assert.Throws<ArgumentException>(() => model.Forward(randint(0, 50, [2, 1]), cache));
        Assert.Contains("batch of 1", b.Message);
        using var other = new KvCache(3);
        var l = Assert.Throws<ArgumentException>(() => model.Forward(randint(0, 50, [1, 1]), other));
        Assert.Contains("3 layers", l.Message);
    }

    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Transformer, 1)]
    public void AnExpandedCacheLetsEveryRowContinueTheSharedPrefixAsIfRunWhole(Architecture arch, int? kv)
    {
        using var model = SharpModel(Tiny(arch, kv), 48);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prefix = randint(0, 50, [1, 10]);
        var continuations = randint(0, 50, [3, 5]);                                   // three rows, each going on from the prefix
        using var shared = model.CreateCache();
        model.Forward(prefix, shared);
        using var rows = shared.Expand(3, capacity: 15);
        Assert.Equal(10, rows.Length);
        Assert.Equal(15, rows[0].Capacity);
        var cached = model.Forward(continuations, rows);                               // (3, 5, V)
        var whole = model.Forward(cat([prefix.expand(3, -1), continuations], 1)).narrow(1, 10, 5);   // (3, 5, V)
        TensorAssert.Close(log, $"{arch} expanded rows", cached, whole, rtol: 0, atol: 1e-5);
        Assert.Equal(10, shared.Length);                                               // the one-row cache is left as it was
        model.Forward(continuations.narrow(0, 0, 1), shared);
        var e = Assert.Throws<InvalidOperationException>(() => rows.Expand(2));
        Assert.Contains("holds 3 rows", e.Message);
        using var padded = model.CreateCache(leftPadding: [1]);
        Assert.Contains("padded", Assert.Throws<InvalidOperationException>(() => padded.Expand(2)).Message);
    }

    [Fact]
    public void DecodingLeavesTheLiveTensorCountFlat()
    {
        using var model = SharpModel(Tiny(Architecture.Diff, 1), 47);
        using var cache = model.CreateCache(80);
        using var prompt = randint(0, 50, [1, 8]);
        using var token = randint(0, 50, [1, 1]);
        using var _ = no_grad();
        var counts = new List<long>();
        using (model.Forward(prompt, cache)) { }
        for (int i = 0; i < 40; i++)
        {
            using (model.Forward(token, cache)) { }
            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        log.WriteLine($"live tensors after steps 1, 5, 40: {counts[0]}, {counts[4]}, {counts[39]}");
        Assert.Equal(counts[4], counts[39]);
    }
}
