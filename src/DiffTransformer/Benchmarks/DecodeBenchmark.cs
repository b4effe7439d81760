using System.Diagnostics;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// Decode speed with and without the KV cache. Cached: prefill context − tokens positions, then time single-token
/// steps (forward over the cache, arg-max, feed back) up to the context. Recompute: each token is a full forward
/// over the whole sequence so far, the last row's arg-max appended. Everything under no_grad. Several architectures and
/// weight formats are timed side by side on the same shape, seed and tokens, in rotating order each round; the report
/// gives each variant's speed relative to the first as the median over rounds of the per-round ratio.
/// </summary>
public static class DecodeBenchmark
{
    public static DecodeBenchmarkResult Run(DecodeBenchmarkOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var cfg = options.Config.Validate();
        if (options.Tokens < 1 || options.RecomputeTokens < 1 || options.Repeats < 1)
            throw new ArgumentException($"tokens ({options.Tokens}), recompute tokens ({options.RecomputeTokens}) and repeats ({options.Repeats}) must be ≥ 1");
        var variants = options.Variants;
        var measurements = new List<DecodeMeasurement>();
        foreach (var v in variants)
        {
            foreach (int c in options.Contexts.Distinct()) measurements.Add(new DecodeMeasurement(true, c, options.Tokens) { Variant = v });
            foreach (int c in options.RecomputeContexts.Distinct()) measurements.Add(new DecodeMeasurement(false, c, options.RecomputeTokens) { Variant = v });
        }
        foreach (var m in measurements)
        {
            if (m.Context > cfg.MaxSeqLen) throw new ArgumentException($"context {m.Context} exceeds the model's max_seq_len {cfg.MaxSeqLen}");
            if (m.Context <= m.Tokens) throw new ArgumentException($"context {m.Context} must exceed the {m.Tokens} timed tokens (they end at the context)");
        }

        var models = new List<LanguageModel>();
        try
        {
            foreach (var (arch, weights) in variants)
            {
                manual_seed(options.Seed);
                models.Add(new LanguageModel(cfg with { Arch = arch, Weights = weights }) { Kernel = options.Kernel });
            }
            int maxContext = measurements.Max(m => m.Context);
            manual_seed(options.Seed + 1);
            using var sequence = randint(0, cfg.VocabSize, [1, maxContext]);

            // warm-up: libtorch's first calls allocate and pick kernels (within the sequence drawn: the contexts may all be short)
            int warm = Math.Min(64, maxContext);
            foreach (var model in models) Measure(model, sequence, new DecodeMeasurement(true, warm, Math.Max(1, Math.Min(8, warm / 2))));

            for (int r = 0; r < options.Repeats; r++)
                for (int k = 0; k < variants.Count; k++)
                {
                    int vi = (k + r) % variants.Count;                          // rotate: no variant always runs first
                    foreach (var m in measurements.Where(m => m.Variant == variants[vi]))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Measure(models[vi], sequence, m);
                        progress?.Report($"round {r + 1}/{options.Repeats}: {DecodeBenchmarkResult.Label(m.Variant),-18} {m.Mode,-9} context {m.Context,5}: {m.MsPerToken[^1],8:F2} ms/token");
                    }
                }
            return new DecodeBenchmarkResult(options, measurements, get_num_threads());
        }
        finally
        {
            foreach (var model in models) model.Dispose();
        }
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
