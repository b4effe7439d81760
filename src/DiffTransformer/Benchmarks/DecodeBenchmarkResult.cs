using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>Results of a run, with the two ratios the issue sets targets for (docs/BENCHMARKS.md).</summary>
public sealed record DecodeBenchmarkResult(DecodeBenchmarkOptions Options, IReadOnlyList<DecodeMeasurement> Measurements, int Threads)
{
    /// <summary>Cached per-token time at the largest context over that at the smallest (target: ≤ 2).</summary>
    public double? ContextGrowth
    {
        get
        {
            var cached = Measurements.Where(m => m.Cached).OrderBy(m => m.Context).ToList();
            return cached.Count >= 2 ? cached[^1].Median / cached[0].Median : null;
        }
    }

    /// <summary>Per context measured both ways: recompute time over cached time (target: ≥ 5 at 1024).</summary>
    public IEnumerable<(int Context, double Speedup)> CacheSpeedups =>
        from r in Measurements where !r.Cached
        join c in Measurements.Where(m => m.Cached) on r.Context equals c.Context
        select (r.Context, r.Median / c.Median);

    /// <summary>The report <c>difft bench decode</c> prints: a header line naming the model (<paramref name="name"/>) and the table.</summary>
    public string ToMarkdown(string name)
    {
        var w = new StringWriter();
        var c = Options.Config;
        w.WriteLine($"{name}: {c.Arch.ToString().ToLowerInvariant()}, E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads}, Hkv {c.KvHeads}, vocab {c.VocabSize}; " +
                    $"{KernelNames.Of(Options.Kernel)} core, {Threads} threads, batch 1, {(c.LinearWeights == WeightFormat.Int8 ? "int8 linear weights" : "float32")}, median of {Options.Repeats}");
        w.WriteLine();
        w.WriteLine("| mode | context | tokens timed | ms/token | tokens/s | ms/token per round | prefill tokens/s |");
        w.WriteLine("|---|---:|---:|---:|---:|---|---:|");
        foreach (var m in Measurements)
        {
            string rounds = string.Join(", ", m.MsPerToken.Select(Fmt.F2));
            string prefill = m.PrefillMedian is double pf ? Fmt.N0(pf) : "–";
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {m.Mode} | {m.Context} | {m.Tokens} | {m.Median:F2} | {m.TokensPerSecond:F1} | {rounds} | {prefill} |"));
        }
        w.WriteLine();
        return w.ToString();
    }
}
