using System.Globalization;

namespace DiffTransformer.Benchmarks;

/// <summary>Results of <see cref="ServeBenchmark.Run"/>, formatted by <see cref="ToMarkdown"/>.</summary>
public sealed record ServeBenchmarkResult(ServeBenchmarkOptions Options, IReadOnlyList<ServeMeasurement> Measurements, int Threads,
    string Tokenizer, int PromptTokens, string Machine, string LoadBefore, string LoadAfter)
{
    /// <summary>Aggregate tokens/s at this client count over that with one client (null when one client was not measured).</summary>
    public double? Speedup(ServeMeasurement m) =>
        Measurements.FirstOrDefault(x => x.Clients == 1) is { } one && one.Median > 0 ? m.Median / one.Median : null;

    /// <summary>The report <c>difft bench serve</c> prints, headed by the command (<paramref name="command"/>) and the model (<paramref name="name"/>).</summary>
    public string ToMarkdown(string name, string command)
    {
        var w = new StringWriter();
        BenchMarkdown.Header(w, command, Machine, LoadBefore, LoadAfter);
        var c = Options.Config;
        w.WriteLine($"{name}: {c.Arch.ToString().ToLowerInvariant()}, E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads}, Hkv {c.KvHeads}, vocab {c.VocabSize} ({Tokenizer} tokenizer); " +
                    $"{KernelNames.Of(Options.Kernel)} prefill, {Threads} threads; prompt {PromptTokens} tokens, {Options.MaxTokens} new tokens per streamed request (greedy), " +
                    $"{Options.RequestsPerClient} requests per client; loopback HTTP; median of {Options.Repeats} round(s), percentiles over all requests");
        w.WriteLine();
        w.WriteLine("| clients | requests | tokens | aggregate tok/s | vs 1 client | mean batch | per-stream tok/s p50 | first token p50 / p95 ms | per token p50 / p95 ms | stream latency p50 / p95 s |");
        w.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var m in Measurements)
        {
            string speedup = Speedup(m) is double s ? Fmt.Ratio(s) : "–";
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {m.Clients} | {m.Requests} | {Fmt.N0(m.Tokens)} | {Fmt.F1(m.Median)} | {speedup} | {Fmt.F1(Stats.Median(m.MeanBatch))} | {Fmt.F1(Stats.Median(m.StreamTokensPerSecond))} | " +
                $"{Stats.Percentile(m.FirstTokenMs, 50):F0} / {Stats.Percentile(m.FirstTokenMs, 95):F0} | {PerToken(m)} | {Stats.Percentile(m.LatencySeconds, 50):F2} / {Stats.Percentile(m.LatencySeconds, 95):F2} |"));
        }
        w.WriteLine();
        w.WriteLine("Per stream: first token = request sent to its first text; per token = the rest of the stream over its tokens after the first; " +
                    "stream latency = request sent to [DONE]. Percentiles over every request of all rounds.");
        return w.ToString();
    }

    private static string PerToken(ServeMeasurement m) =>
        m.PerTokenMs.Count == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Stats.Percentile(m.PerTokenMs, 50):F1} / {Stats.Percentile(m.PerTokenMs, 95):F1}");
}
