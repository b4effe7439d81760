using DiffTransformer.Inference;
using DiffTransformer.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Inference;

public sealed class SamplerTests(ITestOutputHelper log)
{
    [Fact]
    public void TopKNeverPicksOutsideTheKBest()
    {
        manual_seed(1);
        using var scope = NewDisposeScope();
        var sampler = new Sampler(new SamplingOptions { Temperature = 3.0, TopK = 5, Seed = 11 });   // flat: the tail would be picked often
        for (int row = 0; row < 20; row++)
        {
            var logits = randn(50);
            var best = logits.topk(5).indexes.data<long>().Select(x => (int)x).ToHashSet();
            var seen = new HashSet<int>();
            for (int i = 0; i < 200; i++)
            {
                int id = sampler.NextOne(logits);
                Assert.Contains(id, best);
                seen.Add(id);
            }
            Assert.True(seen.Count >= 4, $"row {row}: only {seen.Count} of the 5 best were ever drawn at temperature 3");
        }
    }

    [Theory]
    [InlineData(0.45, 1)]   // 0.5 ≥ 0.45
    [InlineData(0.69, 2)]   // 0.5 + 0.2
    [InlineData(0.71, 3)]   // 0.5 + 0.2 + 0.15
    [InlineData(0.9, 4)]
    [InlineData(1.0, 5)]
    public void TopPKeepsTheSmallestSetWithMassAtLeastP(double p, int kept)
    {
        double[] probs = [0.5, 0.2, 0.15, 0.1, 0.05];
        var sorted = probs.Select(x => (float)Math.Log(x)).ToArray();
        var (count, filtered) = Sampler.Filter(sorted, new SamplingOptions { TopP = p });
        Assert.Equal(kept, count);
        double mass = probs.Take(kept).Sum();
        for (int j = 0; j < kept; j++) Assert.Equal(probs[j] / mass, filtered[j], 6);

        // and draws stay inside that set: ids are shuffled so that the set is not simply the first ids
        int[] ids = [3, 0, 4, 1, 2];
        var logits = new float[5];
        for (int j = 0; j < 5; j++) logits[ids[j]] = sorted[j];
        using var t = tensor(logits);
        var sampler = new Sampler(new SamplingOptions { TopP = p, Seed = 5 });
        var allowed = ids.Take(kept).ToHashSet();
        var counts = new int[5];
        for (int i = 0; i < 4000; i++)
        {
            int id = sampler.NextOne(t);
            Assert.Contains(id, allowed);
            counts[id]++;
        }
        for (int j = 0; j < kept; j++)
            Assert.InRange(counts[ids[j]] / 4000.0, probs[j] / mass - 0.03, probs[j] / mass + 0.03);
        log.WriteLine($"top-p {p}: kept {count}, draw frequencies {string.Join(", ", ids.Take(kept).Select(i => (counts[i] / 4000.0).ToString("F3")))}");
    }

    [Fact]
    public void AFixedSeedReproducesAndAnotherSeedDiffers()
    {
        manual_seed(2);
        using var scope = NewDisposeScope();
        var rows = Enumerable.Range(0, 64).Select(_ => randn(100)).ToArray();
        int[] Draw(long seed)
        {
            var s = new Sampler(new SamplingOptions { Temperature = 1.0, TopP = 0.95, Seed = seed });
            return [.. rows.Select(r => s.NextOne(r))];
        }
        Assert.Equal(Draw(42), Draw(42));
        Assert.NotEqual(Draw(42), Draw(43));
        var unseeded = new Sampler(new SamplingOptions());
        Assert.Equal(Draw(unseeded.Seed), Draw(unseeded.Seed));   // a drawn seed is reported and reproduces too
    }

    [Fact]
    public void TemperatureTowardsZeroEqualsGreedy()
    {
        manual_seed(3);
        using var scope = NewDisposeScope();
        var logits = randn(200, 257).mul(Scalars.Of(3));
        var greedy = new Sampler(SamplingOptions.Greedy).Next(logits);
        var cold = new Sampler(new SamplingOptions { Temperature = 1e-4, Seed = 9 }).Next(logits);
        var argmax = logits.argmax(1).data<long>().Select(x => (int)x).ToArray();
        Assert.Equal(argmax, greedy);
        Assert.Equal(greedy, cold);
    }

    [Fact]
    public void PaddedVocabularyRowsAreNeverDrawn()
    {
        using var scope = NewDisposeScope();
        var logits = zeros(10);
        logits[8] = 100f;                                       // ids 8, 9: padding rows past the tokenizer's 8 ids
        Assert.Equal(0, new Sampler(SamplingOptions.Greedy).NextOne(logits, validIds: 8));
        var s = new Sampler(new SamplingOptions { Seed = 1 });
        for (int i = 0; i < 200; i++) Assert.InRange(s.NextOne(logits, validIds: 8), 0, 7);
    }

    [Theory]
    [InlineData(-0.5, 0, 1.0, "temperature")]
    [InlineData(double.NaN, 0, 1.0, "temperature")]
    [InlineData(1.0, -1, 1.0, "top-k")]
    [InlineData(1.0, 0, 0.0, "top-p")]
    [InlineData(1.0, 0, 1.5, "top-p")]
    public void BadOptionsAreRefusedByName(double temperature, int topK, double topP, string name)
    {
        var e = Assert.Throws<ArgumentException>(() => { _ = new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }); });
        Assert.Contains(name, e.Message);
    }
}
