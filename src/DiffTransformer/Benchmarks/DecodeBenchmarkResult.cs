using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// Results of a run: every variant's measurements, the two ratios the decode targets concern (docs/BENCHMARKS.md), and,
/// with several variants, each one's speed relative to the first.
/// </summary>
public sealed record DecodeBenchmarkResult(DecodeBenchmarkOptions Options, IReadOnlyList<DecodeMeasurement> Measurements, int Threads)
{
    /// <summary>A variant's name in the tables: "diff", "transformer int8", …</summary>
    public static string Label((Architecture Arch, WeightFormat Weights) v) =>
        ArchitectureNames.Name(v.Arch) + (v.Weights == WeightFormat.Int8 ? " int8" : "");

    private IEnumerable<DecodeMeasurement> Of((Architecture, WeightFormat) v) => Measurements.Where(m => m.Variant == v);

    /// <summary>The first variant's cached per-token time at the largest context over that at the smallest (target: ≤ 2).</summary>
    public double? ContextGrowth
    {
        get
        {
            var cached = Of(Options.Variants[0]).Where(m => m.Cached).OrderBy(m => m.Context).ToList();
            return cached.Count >= 2 ? cached[^1].Median / cached[0].Median : null;
        }
    }

    /// <summary>The first variant, per context measured both ways: recompute time over cached time (target: ≥ 5 at 1024).</summary>
    public IEnumerable<(int Context, double Speedup)> CacheSpeedups =>
        from r in Of(Options.Variants[0]) where !r.Cached
        join c in Of(Options.Variants[0]).Where(m => m.Cached) on r.Context equals c.Context
        select (r.Context, r.Median / c.Median);

    /// <summary>
    /// A variant's tokens/s over the first variant's for one (mode, context): the median over rounds of the per-round
    /// ratio (both timed in the same round, so a load that comes and goes cancels).
    /// </summary>
    public double Ratio((Architecture, WeightFormat) variant, bool cached, int context)
    {
        var reference = Of(Options.Variants[0]).Single(m => m.Cached == cached && m.Context == context);
        var other = Of(variant).Single(m => m.Cached == cached && m.Context == context);
        return Stats.Median([.. reference.MsPerToken.Zip(other.MsPerToken, (a, b) => a / b)]);
    }

    /// <summary>The report <c>difft bench decode</c> prints: a header line naming the model (<paramref name="name"/>), the table and the ratios.</summary>
    public string ToMarkdown(string name)
    {
        var w = new StringWriter();
        var c = Options.Config;
        var variants = Options.Variants;
        w.WriteLine($"{name}: E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads}, Hkv {c.KvHeads}, vocab {c.VocabSize}; {string.Join(", ", variants.Select(Label))}; " +
                    $"{KernelNames.Of(Options.Kernel)} core, {Threads} threads, batch 1, median of {Options.Repeats}" + (variants.Count > 1 ? " rounds in rotating order" : ""));
        w.WriteLine();
        w.WriteLine("| model | mode | context | tokens timed | ms/token | tokens/s | ms/token per round | prefill tokens/s |");
        w.WriteLine("|---|---|---:|---:|---:|---:|---|---:|");
        foreach (var m in Measurements)
        {
            string rounds = string.Join(", ", m.MsPerToken.Select(Fmt.F2));
            string prefill = m.PrefillMedian is double pf ? Fmt.N0(pf) : "–";
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {Label(m.Variant)} | {m.Mode} | {m.Context} | {m.Tokens} | {m.Median:F2} | {m.TokensPerSecond:F1} | {rounds} | {prefill} |"));
        }
        w.WriteLine();
        if (variants.Count > 1)
        {
            w.WriteLine($"Tokens/s relative to {Label(variants[0])} (median over rounds of the per-round ratio):");
            w.WriteLine();
            var settings = Of(variants[0]).Select(m => (m.Cached, m.Context, m.Mode)).ToList();
            w.WriteLine("| model | " + string.Join(" | ", settings.Select(s => $"{s.Mode} {s.Context}")) + " |");
            w.WriteLine("|---|" + string.Concat(settings.Select(_ => "---:|")));
            foreach (var v in variants.Skip(1))
                w.WriteLine($"| {Label(v)} | " + string.Join(" | ", settings.Select(s => Fmt.Ratio(Ratio(v, s.Cached, s.Context)))) + " |");
            w.WriteLine();
        }
        return w.ToString();
    }
}
