using DiffTransformer.Benchmarks;
using DiffTransformer.Tests.Inference;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Benchmarks;

/// <summary><see cref="ServeBenchmark"/> (what <c>difft bench serve</c> runs) on a tiny model: its counts, its batching, its bounds.</summary>
public sealed class ServeBenchmarkTests(ITestOutputHelper log)
{
    private static readonly DiffTransformer.Model.ModelConfig Tiny = TinyCheckpoints.Config();

    [Fact]
    public void ConcurrentClientsAreDecodedTogetherAndEveryStreamIsTimed()
    {
        var r = ServeBenchmark.Run(new ServeBenchmarkOptions { Config = Tiny, Clients = [3, 1], RequestsPerClient = 2, PromptTokens = 5, MaxTokens = 40, TimeLimit = TimeSpan.FromMinutes(1) });
        Assert.Equal([1, 3], r.Measurements.Select(m => m.Clients));
        var (one, three) = (r.Measurements[0], r.Measurements[1]);
        Assert.Equal(5, r.PromptTokens);
        Assert.Equal((2, 80L), (one.Requests, one.Tokens));     // every request ran its 40 tokens (end-of-text does not end one)
        Assert.Equal((6, 240L), (three.Requests, three.Tokens));
        Assert.Equal(1.0, Assert.Single(one.MeanBatch));        // one client: one row per step
        Assert.True(Assert.Single(three.MeanBatch) > 1.0, $"three clients were never decoded together (mean batch {three.MeanBatch[0]})");
        foreach (var m in r.Measurements)
        {
            Assert.Equal(m.Requests, m.PerTokenMs.Count);
            Assert.All(m.PerTokenMs, ms => Assert.True(ms > 0));
            Assert.All(m.FirstTokenMs.Zip(m.LatencySeconds), p => Assert.True(p.First > 0 && p.First < p.Second * 1000));
            Assert.True(m.Median > 0);
        }
        Assert.Equal(1.0, r.Speedup(one));
        string md = r.ToMarkdown("tiny", "difft bench serve");
        log.WriteLine(md);
        Assert.Contains("| clients | requests | tokens | aggregate tok/s | vs 1 client | mean batch | per-stream tok/s p50 | first token p50 / p95 ms | per token p50 / p95 ms | stream latency p50 / p95 s |", md);
        Assert.Contains("| 1 | 2 | 80 |", md);
        Assert.Contains("| 3 | 6 | 240 |", md);
    }

    [Fact]
    public void NoClientStartsARequestAfterTheTimeLimit()
    {
        var r = ServeBenchmark.Run(new ServeBenchmarkOptions { Config = Tiny, Clients = [2], RequestsPerClient = 100_000, PromptTokens = 5, MaxTokens = 20, TimeLimit = TimeSpan.FromMilliseconds(200) });
        var m = Assert.Single(r.Measurements);
        log.WriteLine($"{m.Requests} requests in a 200 ms limit");
        Assert.InRange(m.Requests, 2, 400);   // each client ran at least its first request, and far fewer than asked
        Assert.Equal(20L * m.Requests, m.Tokens);
    }

    [Fact]
    public void RefusesWhatItCannotRun()
    {
        Assert.Contains("max_seq_len 64", Assert.Throws<ArgumentException>(() => ServeBenchmark.Run(new ServeBenchmarkOptions { Config = Tiny, PromptTokens = 40, MaxTokens = 40 })).Message);
        Assert.Contains("client counts", Assert.Throws<ArgumentException>(() => ServeBenchmark.Run(new ServeBenchmarkOptions { Config = Tiny, Clients = [0] })).Message);
    }
}
