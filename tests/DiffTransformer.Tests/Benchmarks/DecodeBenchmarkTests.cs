using DiffTransformer.Benchmarks;
using DiffTransformer.Model;

namespace DiffTransformer.Tests.Benchmarks;

/// <summary><see cref="DecodeBenchmark"/> with several variants: every (arch, weights) pair timed every round, and the ratios per round.</summary>
[Collection("serial")] // seeds and draws from the global torch generator
public sealed class DecodeBenchmarkTests
{
    [Fact]
    public void VariantsAreTimedSideBySideAndComparedPerRound()
    {
        var cfg = new ModelConfig { VocabSize = 40, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 64 };
        var options = new DecodeBenchmarkOptions
        {
            Config = cfg, Contexts = [16, 32], Tokens = 4, RecomputeContexts = [16], RecomputeTokens = 2, Repeats = 3,
            Archs = [Architecture.Diff, Architecture.Transformer, Architecture.Diff2], Weights = [WeightFormat.Float32, WeightFormat.Int8],
        };
        Assert.Equal(6, options.Variants.Count);
        var rounds = new List<string>();
        var result = DecodeBenchmark.Run(options, new Progress<string>(rounds.Add));
        Assert.Equal(6 * 3, result.Measurements.Count);
        Assert.All(result.Measurements, m => Assert.Equal(3, m.MsPerToken.Count));
        var m0 = result.Measurements.Single(m => m.Variant == (Architecture.Transformer, WeightFormat.Int8) && m.Cached && m.Context == 32);
        var r0 = result.Measurements.Single(m => m.Variant == (Architecture.Diff, WeightFormat.Float32) && m.Cached && m.Context == 32);
        double expected = new[] { 0, 1, 2 }.Select(i => r0.MsPerToken[i] / m0.MsPerToken[i]).Order().ElementAt(1);
        Assert.Equal(expected, result.Ratio((Architecture.Transformer, WeightFormat.Int8), cached: true, context: 32), 12);
        string md = result.ToMarkdown("test");
        Assert.Contains("| transformer int8 | cached | 32 |", md);
        Assert.Contains("Tokens/s relative to diff", md);
        Assert.Contains("| diff2 int8 | ", md);

        // a single variant keeps the old report: no ratio table
        var single = DecodeBenchmark.Run(options with { Archs = [], Weights = [], Repeats = 1 });
        Assert.DoesNotContain("relative to", single.ToMarkdown("test"));
        Assert.Equal(3, single.Measurements.Count);
    }
}
