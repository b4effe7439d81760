using System.Diagnostics;
using DiffTransformer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>Results of a run, with the two ratios the issue sets targets for.</summary>
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
}
