using DiffTransformer.Evaluation;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Evaluation;

/// <summary>The streaming statistics of <c>eval outliers</c> against the same figures computed directly from all the values at once.</summary>
public sealed class MagnitudeAccumulatorTests(ITestOutputHelper log)
{
    /// <summary>Normal values with zeros, ties, a few large outliers of either sign and a tiny one; float32, as activations are.</summary>
    private static float[] Crafted(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()) * 1.5 + 0.2);
        for (int i = 0; i < 7; i++) x[rng.Next(n)] = 0;
        x[rng.Next(n)] = -3608.6f;
        x[rng.Next(n)] = 318f;
        x[rng.Next(n)] = 318f;
        x[rng.Next(n)] = 1e-30f;
        return x;
    }

    /// <summary>Exact figures: sorted |x|, the lower median, two-pass moments in double.</summary>
    private static (double[] Desc, double Median, double Mean, double Std, double Kurtosis) Direct(float[] x)
    {
        var abs = x.Select(v => Math.Abs((double)v)).ToArray();
        var asc = abs.Order().ToArray();
        double mean = x.Average(v => (double)v);
        double m2 = x.Sum(v => Math.Pow(v - mean, 2)), m4 = x.Sum(v => Math.Pow(v - mean, 4));
        return (asc.Reverse().ToArray(), asc[(x.Length + 1) / 2 - 1], mean, Math.Sqrt(m2 / x.Length), x.Length * m4 / (m2 * m2));
    }

    private void AssertMatches(string name, MagnitudeStats s, float[] x)
    {
        var (desc, median, mean, std, kurtosis) = Direct(x);
        log.WriteLine($"{name}: n {s.Count}, top-1 {s.Top1}, top-100 {s.Top100:G6}, median {s.Median:G6} (exact {median:G6}, " +
                      $"error {Math.Abs(s.Median / median - 1):E2} ≤ {MagnitudeAccumulator.MedianRelativeError:E2}), kurtosis {s.Kurtosis:G8} (exact {kurtosis:G8})");
        Assert.Equal(x.Length, s.Count);
        Assert.Equal([desc[0], desc[1], desc[2], desc[9], desc[99]], [s.Top1, s.Top2, s.Top3, s.Top10, s.Top100]);
        Assert.True(Math.Abs(s.Median / median - 1) <= MagnitudeAccumulator.MedianRelativeError * (1 + 1e-9), $"{name}: median {s.Median} vs exact {median}");
        Assert.Equal(s.Top1 / s.Median, s.TopToMedian);
        Assert.Equal(mean, s.Mean, Math.Abs(mean) * 1e-9);
        Assert.Equal(std, s.Std, std * 1e-9);
        Assert.Equal(kurtosis, s.Kurtosis, kurtosis * 1e-9);
        Assert.Equal(s.Count, s.Histogram.Sum(b => b.Count));
    }

    [Fact]
    public void ValuesStreamedInChunksGiveTheExactTopValuesAndMomentsAndTheMedianWithinItsBound()
    {
        var x = Crafted(20011, 1);
        var streamed = new MagnitudeAccumulator();
        int at = 0;
        foreach (int size in new[] { 1, 99, 3000, 7, 16000 })             // windows of different sizes and shapes
        {
            using var chunk = tensor(x[at..(at + size)]);
            using var shaped = size == 16000 ? chunk.view(2, 4, 40, 50) : chunk;
            streamed.Add(shaped);
            at += size;
        }
        using (var rest = tensor(x[at..])) streamed.Add(rest);
        AssertMatches("five chunks", streamed.Summary(), x);

        var once = new MagnitudeAccumulator();
        using (var all = tensor(x)) once.Add(all);
        var a = once.Summary();
        var b = streamed.Summary();
        Assert.Equal((a.Count, a.Top1, a.Top100, a.Median), (b.Count, b.Top1, b.Top100, b.Median));   // chunking changes nothing but rounding
        Assert.Equal(a.Histogram, b.Histogram);
    }

    [Fact]
    public void MergingAccumulatorsEqualsAddingEverythingToOne()
    {
        var x = Crafted(5003, 2);
        var y = Crafted(777, 3).Select(v => v * 40).ToArray();
        var ax = new MagnitudeAccumulator();
        var ay = new MagnitudeAccumulator();
        using (var tx = tensor(x)) ax.Add(tx);
        using (var ty = tensor(y)) ay.Add(ty);
        ax.Merge(ay);
        AssertMatches("merged", ax.Summary(), [.. x, .. y]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(1001)]
    public void TheMedianIsTheLowerMedianWithinHalfABin(int n)
    {
        var x = Enumerable.Range(1, n).Select(i => (float)i).Reverse().ToArray();
        var acc = new MagnitudeAccumulator();
        using (var t = tensor(x)) acc.Add(t);
        double exact = (n + 1) / 2;
        double m = acc.Median();
        Assert.True(Math.Abs(m / exact - 1) <= MagnitudeAccumulator.MedianRelativeError * (1 + 1e-9), $"median of 1…{n}: {m}, exact {exact}");
        Assert.NotEqual(exact, m);                                          // it is the bin's centre, not the value: the bound is what is promised
    }

    [Fact]
    public void FewValuesEmptyAndNaN()
    {
        var acc = new MagnitudeAccumulator();
        Assert.True(double.IsNaN(acc.Summary().Median));
        using (var t = tensor(new float[] { -2, 0, 0, 5 })) acc.Add(t);
        var s = acc.Summary();
        Assert.Equal((5.0, 2.0, 0.0), (s.Top1, s.Top2, s.Top3));
        Assert.True(double.IsNaN(s.Top10) && double.IsNaN(s.Top100));
        Assert.Equal(0, s.Median);                                          // the lower median of 0, 0, 2, 5 is 0
        Assert.Equal(new HistogramBin(0, Math.Pow(2, MagnitudeAccumulator.MinExponent), 2), s.Histogram[0]);
        using var bad = tensor(new[] { 1f, float.NaN });
        Assert.Equal("the activations hold NaN: the model's forward is not finite", Assert.Throws<ArgumentException>(() => acc.Add(bad)).Message);
    }
}
