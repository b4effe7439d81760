using System.Diagnostics;
using DiffTransformer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>What <see cref="DecodeBenchmark.Run"/> measures.</summary>
public sealed record DecodeBenchmarkOptions
{
    /// <summary>The model shape (weights are random: speed does not depend on them).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>Contexts at which cached decoding is timed: the timed tokens end at this many positions.</summary>
    public IReadOnlyList<int> Contexts { get; init; } = [128, 1024, 2048];

    /// <summary>Tokens decoded (and timed) per cached measurement.</summary>
    public int Tokens { get; init; } = 32;

    /// <summary>Contexts at which decoding without a cache (a full forward over the whole sequence per token) is timed.</summary>
    public IReadOnlyList<int> RecomputeContexts { get; init; } = [1024];

    /// <summary>Tokens decoded per recompute measurement (each costs a full forward).</summary>
    public int RecomputeTokens { get; init; } = 4;

    /// <summary>Rounds; in each, every measurement runs once, in turn, so that a busy machine slows all alike.</summary>
    public int Repeats { get; init; } = 3;

    public AttentionKernel Kernel { get; init; } = AttentionKernel.Fused;

    public long Seed { get; init; }
}

/// <summary>One measured configuration; times per repeat.</summary>
public sealed record DecodeMeasurement(bool Cached, int Context, int Tokens)
{
    public List<double> MsPerToken { get; } = [];
    public List<double> PrefillTokensPerSecond { get; } = [];

    public double Median => Stats.Median(MsPerToken);
    public double TokensPerSecond => 1000.0 / Median;
    public double? PrefillMedian => PrefillTokensPerSecond.Count > 0 ? Stats.Median(PrefillTokensPerSecond) : null;
    public string Mode => Cached ? "cached" : "recompute";
}

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

/// <summary>
/// Decode speed with and without the KV cache. Cached: prefill context − tokens positions, then time single-token
/// steps (forward over the cache, arg-max, feed back) up to the context. Recompute: each token is a full forward
/// over the whole sequence so far, the last row's arg-max appended. Everything under no_grad.
/// </summary>
public static class DecodeBenchmark
{
    public static DecodeBenchmarkResult Run(DecodeBenchmarkOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var cfg = options.Config.Validate();
        if (options.Tokens < 1 || options.RecomputeTokens < 1 || options.Repeats < 1)
            throw new ArgumentException($"tokens ({options.Tokens}), recompute tokens ({options.RecomputeTokens}) and repeats ({options.Repeats}) must be ≥ 1");
        var measurements = new List<DecodeMeasurement>();
        foreach (int c in options.Contexts) measurements.Add(new DecodeMeasurement(true, c, options.Tokens));
        foreach (int c in options.RecomputeContexts) measurements.Add(new DecodeMeasurement(false, c, options.RecomputeTokens));
        foreach (var m in measurements)
        {
            if (m.Context > cfg.MaxSeqLen) throw new ArgumentException($"context {m.Context} exceeds the model's max_seq_len {cfg.MaxSeqLen}");
            if (m.Context <= m.Tokens) throw new ArgumentException($"context {m.Context} must exceed the {m.Tokens} timed tokens (they end at the context)");
        }

        manual_seed(options.Seed);
        using var model = new LanguageModel(cfg) { Kernel = options.Kernel };
        int maxContext = measurements.Max(m => m.Context);
        using var sequence = randint(0, cfg.VocabSize, [1, maxContext]);

        // warm-up: libtorch's first calls allocate and pick kernels
        Measure(model, sequence, new DecodeMeasurement(true, Math.Min(64, cfg.MaxSeqLen), Math.Min(8, cfg.MaxSeqLen / 2)));

        for (int r = 0; r < options.Repeats; r++)
            foreach (var m in measurements)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Measure(model, sequence, m);
                progress?.Report($"round {r + 1}/{options.Repeats}: {m.Mode,-9} context {m.Context,5}: {m.MsPerToken[^1],8:F2} ms/token");
            }
        return new DecodeBenchmarkResult(options, measurements, get_num_threads());
    }

    private static void Measure(LanguageModel model, Tensor sequence, DecodeMeasurement m)
    {
        using var _ = no_grad();
        int prefix = m.Context - m.Tokens;
        var watch = new Stopwatch();
        if (m.Cached)
        {
            using var cache = model.CreateCache(capacity: m.Context);
            long next;
            watch.Restart();
            using (NewDisposeScope())
            {
                var logits = model.Forward(sequence.narrow(1, 0, prefix), cache);              // (1, prefix, V)
                next = logits[0, -1].argmax().item<long>();
            }
            double prefillSeconds = watch.Elapsed.TotalSeconds;
            watch.Restart();
            for (int i = 0; i < m.Tokens; i++)
            {
                using var scope = NewDisposeScope();
                var token = tensor(new[] { next }, dtype: ScalarType.Int64).view(1, 1);        // (1, 1)
                next = model.Forward(token, cache)[0, 0].argmax().item<long>();                // (1, 1, V) → id
            }
            m.MsPerToken.Add(watch.Elapsed.TotalMilliseconds / m.Tokens);
            m.PrefillTokensPerSecond.Add(prefix / prefillSeconds);
        }
        else
        {
            var ids = sequence.narrow(1, 0, prefix).data<long>().ToList();
            watch.Restart();
            for (int i = 0; i < m.Tokens; i++)
            {
                using var scope = NewDisposeScope();
                var tokens = tensor(ids.ToArray(), dtype: ScalarType.Int64).view(1, ids.Count); // (1, S)
                var hidden = model.Hidden(tokens).select(1, ids.Count - 1);                     // (1, E): the prefix recomputed
                ids.Add(model.Head(hidden)[0].argmax().item<long>());
            }
            m.MsPerToken.Add(watch.Elapsed.TotalMilliseconds / m.Tokens);
        }
    }
}

internal static class Stats
{
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
