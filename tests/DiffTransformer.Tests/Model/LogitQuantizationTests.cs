using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>Attention logits quantised before the softmax (<see cref="LogitQuantization"/>): the formula, the level count per scale group, the modules' path.</summary>
public sealed class LogitQuantizationTests(ITestOutputHelper log)
{
    private static ModelConfig Small(Architecture arch, int? kv = null) => new()
    {
        Arch = arch, VocabSize = 50, EmbedDim = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, MaxSeqLen = 64,
    };

    /// <summary>The model with sharp maps (weights scaled up), seeded.</summary>
    private static LanguageModel Model(Architecture arch, int? kv = null)
    {
        manual_seed(21);
        var model = new LanguageModel(Small(arch, kv));
        using (no_grad()) foreach (var p in model.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(6));
        model.eval();
        return model;
    }

    /// <summary>
    /// The quantisation written out element by element: per group (a batch row, or a row's map), s = max|x| over the
    /// visible entries / (2^(b−1) − 1), x → clamp(round(x / s)) · s; hidden entries untouched. <paramref name="hidden"/>
    /// is the (T, S) mask, flattened; a group is a whole number of (T, S) maps.
    /// </summary>
    private static float[] Direct(float[] x, bool[] hidden, long b, long m, int bits, QuantGranularity g)
    {
        float qmax = (1 << (bits - 1)) - 1;
        var y = (float[])x.Clone();
        long groups = g == QuantGranularity.Tensor ? b : b * m, size = x.Length / groups;
        for (long gi = 0; gi < groups; gi++)
        {
            float amax = 0;
            for (long i = gi * size; i < (gi + 1) * size; i++) if (!hidden[i % hidden.Length]) amax = Math.Max(amax, Math.Abs(x[i]));
            float s = amax / qmax;
            if (s == 0) s = 1;
            for (long i = gi * size; i < (gi + 1) * size; i++)
                if (!hidden[i % hidden.Length]) y[i] = Math.Clamp(MathF.Round(x[i] / s), -qmax, qmax) * s;
        }
        return y;
    }

    [Theory]
    [InlineData(8, QuantGranularity.Tensor)]
    [InlineData(4, QuantGranularity.Head)]
    [InlineData(16, QuantGranularity.Head)]
    public void QuantisedLogitsEqualTheFormulaWrittenOut(int bits, QuantGranularity g)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        long b = 2, m = 4, t = 5, s = 7;                                     // a cached prefix of 2: the causal rule is bottom-right
        var logits = randn(b, m, t, s).mul(Scalars.Of(3));
        logits[1, 2] = logits[1, 2].mul(Scalars.Of(20));                                // one map with a larger range than the others
        var hidden = ones(t, s, dtype: ScalarType.Bool).triu(1 + (s - t));  // (T, S), true above the shifted diagonal
        var q = new LogitQuantization(bits, g).Apply(logits, hidden);
        var hiddenFlat = Enumerable.Range(0, (int)(t * s)).Select(i => hidden.view(-1)[i].item<bool>()).ToArray();
        var expected = Direct(logits.data<float>().ToArray(), hiddenFlat, b, m, bits, g);
        var actual = q.data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        int differ = expected.Zip(actual).Count(p => p.First != p.Second);
        log.WriteLine($"{bits}-bit per-{g}: {differ} of {actual.Length} entries differ from the direct computation");
        Assert.Equal(0, differ);
    }

    /// <summary>The distinct values among the visible logits of each group, from a capture (which records the quantised logits).</summary>
    private static List<int> LevelsPerGroup(LanguageModel model, Tensor tokens, QuantGranularity groups)
    {
        var counts = new List<int>();
        using var capture = new AttentionCapture { WantProbs = false, WantDifferential = false };
        using (no_grad()) model.Forward(tokens, 0, capture);
        foreach (var map in capture.Maps)
        {
            var logits = map.Logits!;                                       // (B, 2H, T, S), hidden = −∞
            for (long r = 0; r < logits.shape[0]; r++)
            {
                if (groups == QuantGranularity.Tensor) counts.Add(Distinct(logits[r]));
                else for (long h = 0; h < logits.shape[1]; h++) counts.Add(Distinct(logits[r, h]));
            }
        }
        return counts;

        static int Distinct(Tensor t) => t.data<float>().ToArray().Where(float.IsFinite).Distinct().Count();
    }

    [Theory]
    [InlineData(Architecture.Diff, 4)]
    [InlineData(Architecture.Diff, 6)]
    [InlineData(Architecture.Transformer, 4)]
    [InlineData(Architecture.Transformer, 6)]
    public void AtBBitsAScaleGroupHoldsAtMostTwoToTheBLevels(Architecture arch, int bits)
    {
        using var model = Model(arch);
        using var scope = NewDisposeScope();
        var tokens = randint(0, 50, [2, 40]);
        int limit = (1 << bits) - 1;                                        // symmetric: −qmax … qmax, one level fewer than 2^b
        foreach (var g in new[] { QuantGranularity.Tensor, QuantGranularity.Head })
        {
            model.Quantization = new LogitQuantization(bits, g);
            var own = LevelsPerGroup(model, tokens, g);
            log.WriteLine($"{arch} {model.Quantization}: levels per group {string.Join(" ", own)} (at most 2^b − 1 = {limit})");
            Assert.All(own, n => Assert.InRange(n, 2, limit));
            if (g == QuantGranularity.Head)
            {
                // per-head scales differ between maps, so a whole row's maps together exceed one group's levels
                var rows = LevelsPerGroup(model, tokens, QuantGranularity.Tensor);
                log.WriteLine($"  the same, counted per row: {string.Join(" ", rows)}");
                Assert.Contains(rows, n => n > limit);
            }
        }
        model.Quantization = null;
        Assert.Contains(LevelsPerGroup(model, tokens, QuantGranularity.Head), n => n > limit);   // full precision: no such bound
    }

    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, null)]
    public void TheQuantisedCoreIsSoftmaxOfTheQuantisedLogits(Architecture arch, int? kv)
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        long b = 2, h = 2, hkv = kv ?? h, t = 6, d = 8;
        bool diff = arch == Architecture.Diff;
        var q = randn(b, 2 * h, t, d).mul(Scalars.Of(2));
        var k = randn(b, 2 * hkv, t, d).mul(Scalars.Of(2));
        var v = randn(b, diff ? hkv : 2 * hkv, t, diff ? 2 * d : d);
        var lambda = tensor(0.3f);
        var quant = new LogitQuantization(4, QuantGranularity.Head);
        var output = diff ? DifferentialCore.Explicit(q, k, v, lambda, null, quant).Output : StandardCore.Explicit(q, k, v, null, quant).Output;

        // directly: every query sub-head against its key sub-head (GQA: group h / n_rep), quantised by the formula written out
        long nRep = h / hkv;
        var kx = diff
            ? k.view(b, hkv, 2, t, d).repeat_interleave(nRep, 1).reshape(b, 2 * h, t, d)
            : k.repeat_interleave(nRep, 1);
        var logits = q.matmul(kx.transpose(-1, -2)).div(Scalars.Of(Math.Sqrt(d)));     // (B, 2H, T, T)
        var hidden = ones(t, t, dtype: ScalarType.Bool).triu(1);
        var hiddenFlat = Enumerable.Range(0, (int)(t * t)).Select(i => i % t > i / t).ToArray();
        var ql = tensor(Direct(logits.data<float>().ToArray(), hiddenFlat, b, 2 * h, 4, QuantGranularity.Head), logits.shape);
        var probs = ql.masked_fill(hidden, Scalars.Of(float.NegativeInfinity)).softmax(-1);
        Tensor expected;
        if (diff)
        {
            var pairs = probs.view(b, h, 2, t, t);
            var map = pairs.select(2, 0).sub(pairs.select(2, 1).mul(lambda));
            expected = map.matmul(v.repeat_interleave(nRep, 1));
        }
        else expected = probs.matmul(v.repeat_interleave(nRep, 1));
        TensorAssert.Close(log, $"{arch} kv {kv} 4-bit per-head core", output, expected, rtol: 0, atol: 1e-5);
        var unquantised = diff ? DifferentialCore.Explicit(q, k, v, lambda).Output : StandardCore.Explicit(q, k, v).Output;
        Assert.True(unquantised.sub(expected).abs().max().item<float>() > 1e-3, "4 bits should change the output");
    }

    /// <summary>Bit for bit: every float the same.</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.data<float>().ToArray().SequenceEqual(b.data<float>().ToArray());

    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void WithoutQuantisationTheForwardIsBitForBitTheNormalOne(Architecture arch)
    {
        using var model = Model(arch);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = randint(0, 50, [2, 33]);
        foreach (var kernel in new[] { AttentionKernel.Blocked, AttentionKernel.Fused, AttentionKernel.Explicit })
        {
            model.Kernel = kernel;
            var normal = model.Forward(tokens);
            model.Quantization = new LogitQuantization(16, QuantGranularity.Tensor);
            var q16 = model.Forward(tokens);
            model.Quantization = null;
            var again = model.Forward(tokens);
            double change = q16.sub(normal).abs().max().item<float>();
            log.WriteLine($"{arch} {kernel}: 16-bit logits change the output logits by at most {change:E2}");
            Assert.True(Same(normal, again), $"{kernel}: the forward after clearing the quantisation is not bit-identical");
            Assert.True(change < 1e-2, $"{kernel}: 16 bits changed an output logit by {change}");
        }
    }

    [Theory]
    [InlineData(Architecture.Diff, AttentionKernel.Blocked)]
    [InlineData(Architecture.Transformer, AttentionKernel.Fused)]
    public void QuantisingRunsTheExplicitCoreWhateverTheKernel(Architecture arch, AttentionKernel kernel)
    {
        using var model = Model(arch);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = randint(0, 50, [2, 30]);
        model.Quantization = new LogitQuantization(6, QuantGranularity.Tensor);
        model.Kernel = AttentionKernel.Explicit;
        var ex = model.Forward(tokens);
        model.Kernel = kernel;
        Assert.True(Same(ex, model.Forward(tokens)), $"{kernel} with quantisation differs from the explicit core");

        // greedy decoding recomputes the whole sequence while quantising: the same tokens as full forwards, one at a time
        var prompt = Enumerable.Range(0, 12).Select(i => (i * 7) % 50).ToArray();
        var decoded = GreedyDecoder.Decode(model, [prompt], 5)[0];
        var seq = prompt.Select(x => (long)x).ToList();
        for (int i = 0; i < 5; i++)
        {
            var logits = model.Forward(tensor(seq.ToArray(), [1, seq.Count]));
            seq.Add(logits[0, -1].argmax().item<long>());
        }
        Assert.Equal(seq.Skip(12).Select(x => (int)x), decoded);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(25)]
    public void BitsOutsideTheRangeAreRefused(int bits)
    {
        var e = Assert.Throws<ArgumentException>(() => new LogitQuantization(bits, QuantGranularity.Head));
        Assert.Equal($"logit quantisation needs 2 to 24 bits, got {bits}", e.Message);
    }
}
