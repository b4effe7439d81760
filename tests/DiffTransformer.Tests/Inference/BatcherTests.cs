using DiffTransformer.Model;
using DiffTransformer.Inference;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Inference;

/// <summary>Continuous batching: requests decoded together give what each gives alone; joining, leaving, refusing, stopping.</summary>
public sealed class BatcherTests(TinyCheckpoints checkpoints, ITestOutputHelper log) : IClassFixture<TinyCheckpoints>
{
    private static async Task<GenerationResult> Collect(IAsyncEnumerable<GenerationChunk> chunks, List<string>? pieces = null)
    {
        GenerationResult? result = null;
        await foreach (var c in chunks)
        {
            pieces?.Add(c.Text);
            result ??= c.Result;
        }
        return result ?? throw new InvalidOperationException("no result");
    }

    /// <summary>
    /// Token for token: greedy and sampled requests (three seeds, temperature, top-k, top-p), of different prompt lengths
    /// and budgets, more than fit at once; the first is running before the others arrive and two join only when earlier
    /// ones have left. Each gets exactly what it gets alone with the same options and seed, for both architectures and
    /// grouped KV heads.
    /// </summary>
    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, null)]
    public async Task RequestsServedInABatchEqualTheSameRequestsServedAlone(Architecture arch, int? kv)
    {
        using var gen = TextGenerator.Load(arch == Architecture.Diff && kv is null ? checkpoints.Diff : checkpoints.Save($"{arch}-{kv}", TinyCheckpoints.Config(arch, kv)));
        using var batcher = new ContinuousBatcher(gen, maxBatchSize: 4, maxWaiting: 8);
        var greedy = new GenerationOptions { Sampling = SamplingOptions.Greedy, StopAtEndOfText = false };
        GenerationOptions Sampled(double temperature, int topK, double topP, long seed, int n) =>
            greedy with { MaxNewTokens = n, Sampling = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, Seed = seed } };
        var plain = gen.Generate("x", greedy with { MaxNewTokens = 40 }).Text;
        string stop = plain.Skip(plain.Length / 2).First(c => !char.IsSurrogate(c)).ToString();   // a character it writes half-way
        (string Prompt, GenerationOptions Options)[] requests =
        [
            ("The cat", greedy with { MaxNewTokens = 30 }),
            ("A", greedy with { MaxNewTokens = 12 }),
            ("Once upon a time there was", Sampled(1.2, 0, 1.0, 3, 25)),
            ("", greedy with { MaxNewTokens = 8 }),
            ("Hello, world", Sampled(0.9, 0, 0.95, 11, 20)),   // waits for a place
            ("x", greedy with { MaxNewTokens = 40, StopStrings = [stop] }),   // waits for a place
            ("The cat", Sampled(1.0, 20, 1.0, 5, 16)),         // waits for a place
        ];
        var first = batcher.Stream(requests[0].Prompt, requests[0].Options).GetAsyncEnumerator();
        Assert.True(await first.MoveNextAsync());   // the first is running before the others arrive: they join it mid-flight
        var rest = requests.Skip(1).Select(r => Collect(batcher.Stream(r.Prompt, r.Options))).ToArray();
        var firstPieces = new List<string> { first.Current.Text };
        GenerationResult? r0 = first.Current.Result;
        while (r0 is null && await first.MoveNextAsync())
        {
            firstPieces.Add(first.Current.Text);
            r0 = first.Current.Result;
        }
        await first.DisposeAsync();
        var results = new[] { r0! }.Concat(await Task.WhenAll(rest)).ToArray();
        var stats = batcher.Statistics;
        log.WriteLine($"{arch} kv {kv}: {stats.Steps} batched steps, {stats.Rows} rows, largest batch {stats.LargestBatch}");
        Assert.Equal(4, stats.LargestBatch);
        Assert.True(stats.Rows > stats.Steps * 2, "the requests were not decoded together");
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = gen.Generate(requests[i].Prompt, requests[i].Options);
            Assert.Equal(alone.Tokens, results[i].Tokens);
            Assert.Equal(alone.Text, results[i].Text);
            Assert.Equal(alone.FinishReason, results[i].FinishReason);
            Assert.Equal(alone.PromptTokens, results[i].PromptTokens);
            if (!requests[i].Options.Sampling.IsGreedy)   // the sampling did something: greedy would have written otherwise
            {
                Assert.Equal(requests[i].Options.Sampling.Seed, results[i].Seed);
                Assert.NotEqual(gen.Generate(requests[i].Prompt, requests[i].Options with { Sampling = SamplingOptions.Greedy }).Tokens, results[i].Tokens);
            }
        }
        Assert.Equal(results[0].Text, string.Concat(firstPieces));
        Assert.Equal(FinishReason.StopString, results[5].FinishReason);
    }

    [Fact]
    public async Task RefusesWhenFullAndLetsAbandonedSequencesGo()
    {
        using var gen = TextGenerator.Load(checkpoints.Save("long", TinyCheckpoints.Config() with { MaxSeqLen = 4096 }));
        using var batcher = new ContinuousBatcher(gen, maxBatchSize: 1, maxWaiting: 0);
        var endless = new GenerationOptions { MaxNewTokens = 4000, StopAtEndOfText = false, Sampling = SamplingOptions.Greedy };
        using var cts = new CancellationTokenSource();
        var running = batcher.Stream("abc", endless, cts.Token).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync());
        var refused = Assert.Throws<GenerationRefusedException>(() => batcher.Stream("x", endless));
        Assert.False(refused.Stopping);
        Assert.Contains("busy", refused.Message);
        cts.Cancel();   // the client goes away: its sequence leaves the batch, the place is free again
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { while (await running.MoveNextAsync()) { } });
        await running.DisposeAsync();
        var r = await Collect(batcher.Stream("x", endless with { MaxNewTokens = 3 }));
        Assert.Equal(3, r.Tokens.Count);
    }

    [Fact]
    public async Task StoppingEndsOpenGenerationsWithAFinalChunkAndRefusesNewOnes()
    {
        using var gen = TextGenerator.Load(checkpoints.Save("long", TinyCheckpoints.Config() with { MaxSeqLen = 4096 }));
        using var batcher = new ContinuousBatcher(gen, maxBatchSize: 2, maxWaiting: 4);
        var endless = new GenerationOptions { MaxNewTokens = 4000, StopAtEndOfText = false, Sampling = SamplingOptions.Greedy };
        var pieces = new List<string>();
        var streams = Enumerable.Range(0, 3).Select(i => Collect(batcher.Stream($"prompt {i}", endless), i == 0 ? pieces : null)).ToArray();  // the third waits
        await Task.Delay(200);
        var stopped = batcher.StopAsync(TimeSpan.FromMilliseconds(100));
        Assert.True(Assert.Throws<GenerationRefusedException>(() => batcher.Stream("late", endless)).Stopping);
        var results = await Task.WhenAll(streams).WaitAsync(TimeSpan.FromSeconds(30));
        await stopped.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.All(results, r => Assert.Equal(FinishReason.Interrupted, r.FinishReason));
        Assert.InRange(results[0].Tokens.Count, 1, 3999);
        Assert.Equal(results[0].Text, string.Concat(pieces));
        Assert.Empty(results[2].Tokens);   // never got a place: ended without a token
    }
}
