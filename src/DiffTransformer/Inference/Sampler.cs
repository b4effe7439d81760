using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>
/// Draws token ids from logits with a seeded generator of its own (SplitMix64), so that a seed reproduces the
/// same tokens on any machine and in any process. The filtering runs in float64 on the CPU over the logits
/// sorted by libtorch. Not thread-safe: one sampler per generation.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions options;
    private ulong state;

    public Sampler(SamplingOptions options)
    {
        this.options = options.Validate();
        Seed = options.Seed ?? Random.Shared.NextInt64();
        state = unchecked((ulong)Seed);
    }

    /// <summary>The seed in use (the given one, or the one drawn when none was given).</summary>
    public long Seed { get; }

    public SamplingOptions Options => options;

    /// <summary>
    /// The next token of each row of <paramref name="logits"/>, (B, V) or (V); only ids below <paramref name="validIds"/>
    /// (the tokenizer's vocabulary, when the model pads its own) can be drawn. Rows are drawn in order from the one generator.
    /// </summary>
    public int[] Next(Tensor logits, int? validIds = null)
    {
        using var scope = NewDisposeScope();
        var rows = logits.dim() == 1 ? logits.unsqueeze(0) : logits;          // (B, V)
        if (rows.dim() != 2) throw new ArgumentException($"logits must be (V) or (B, V), got [{string.Join(", ", logits.shape)}]");
        if (validIds is int n && n < rows.shape[1]) rows = rows.narrow(1, 0, n); // (B, V')
        rows = rows.detach().to_type(ScalarType.Float32).cpu();
        long b = rows.shape[0];
        var result = new int[b];
        if (options.IsGreedy)
        {
            var ids = rows.argmax(1).data<long>().ToArray();                    // (B): first maximum
            for (int i = 0; i < b; i++) result[i] = (int)ids[i];
            return result;
        }
        int k = options.TopK > 0 ? (int)Math.Min(options.TopK, rows.shape[1]) : (int)rows.shape[1];
        var (values, indices) = k < rows.shape[1] ? rows.topk(k, 1, largest: true, sorted: true) : rows.sort(1, descending: true, stable: true); // (B, k)
        var vals = values.data<float>().ToArray();
        var idx = indices.data<long>().ToArray();
        for (int i = 0; i < b; i++)
        {
            var (cand, probs) = Filter(vals.AsSpan(i * k, k), options);
            double u = NextDouble();
            int pick = cand - 1;
            double acc = 0;
            for (int j = 0; j < cand; j++)
            {
                acc += probs[j];
                if (u < acc) { pick = j; break; }
            }
            result[i] = (int)idx[i * k + pick];
        }
        return result;
    }

    /// <summary>One row: the next token of logits (V).</summary>
    public int NextOne(Tensor logits, int? validIds = null) => Next(logits, validIds)[0];

    /// <summary>
    /// The distribution a draw is made from, given logits sorted in descending order (already cut to top-k):
    /// temperature-scaled softmax, cut to the smallest prefix whose mass is ≥ top-p, renormalised. Returns how many
    /// candidates are kept and their probabilities (in the sorted order). Exposed for tests.
    /// </summary>
    public static (int Count, double[] Probs) Filter(ReadOnlySpan<float> sortedLogits, SamplingOptions options)
    {
        int n = sortedLogits.Length;
        if (n == 0) throw new ArgumentException("no logits to sample from");
        var p = new double[n];
        double max = sortedLogits[0];
        if (double.IsNaN(max) || double.IsNegativeInfinity(max)) throw new InvalidOperationException($"the logits hold no finite maximum ({max}); the model produced NaN or −∞ everywhere");
        double t = options.Temperature > 0 ? options.Temperature : 1.0;
        double sum = 0;
        for (int j = 0; j < n; j++)
        {
            p[j] = Math.Exp((sortedLogits[j] - max) / t);
            sum += p[j];
        }
        int count = n;
        if (options.TopP < 1)
        {
            double acc = 0;
            for (int j = 0; j < n; j++)
            {
                acc += p[j] / sum;
                if (acc >= options.TopP) { count = j + 1; break; }
            }
        }
        double kept = 0;
        for (int j = 0; j < count; j++) kept += p[j];
        var result = new double[count];
        for (int j = 0; j < count; j++) result[j] = p[j] / kept;
        return (count, result);
    }

    /// <summary>Uniform in [0, 1) from SplitMix64.</summary>
    private double NextDouble()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
