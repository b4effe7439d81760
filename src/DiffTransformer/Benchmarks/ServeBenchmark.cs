using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DiffTransformer.Data;
using DiffTransformer.Inference;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// The load test of <c>difft serve</c>: starts <see cref="OpenAiServer"/> in this process on 127.0.0.1 (a free port,
/// random weights), then for each client count runs that many concurrent clients, each sending
/// <see cref="ServeBenchmarkOptions.RequestsPerClient"/> streaming completions one after another, and measures the
/// aggregate completion tokens/s, each stream's time to its first text, per token after that and to its end, and how
/// full the batch ran.
/// Bounded: a fixed number of requests, none started after <see cref="ServeBenchmarkOptions.TimeLimit"/>.
/// </summary>
public static class ServeBenchmark
{
    public static ServeBenchmarkResult Run(ServeBenchmarkOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default) =>
        RunAsync(options, progress, cancellationToken).GetAwaiter().GetResult();

    private static async Task<ServeBenchmarkResult> RunAsync(ServeBenchmarkOptions options, IProgress<string>? progress, CancellationToken ct)
    {
        var cfg = options.Config.Validate();
        if (options.Clients.Count == 0 || options.Clients.Any(c => c < 1)) throw new ArgumentException("client counts must be ≥ 1");
        if (options.RequestsPerClient < 1 || options.PromptTokens < 1 || options.MaxTokens < 1 || options.Repeats < 1)
            throw new ArgumentException($"requests per client ({options.RequestsPerClient}), prompt tokens ({options.PromptTokens}), max tokens ({options.MaxTokens}) and repeats ({options.Repeats}) must be ≥ 1");
        if (options.PromptTokens + options.MaxTokens > cfg.MaxSeqLen)
            throw new ArgumentException($"prompt ({options.PromptTokens}) + new tokens ({options.MaxTokens}) exceed the model's max_seq_len {cfg.MaxSeqLen}");
        if (options.TimeLimit <= TimeSpan.Zero) throw new ArgumentException($"the time limit must be positive, got {options.TimeLimit}");

        string loadBefore = BenchEnvironment.LoadAverage();
        manual_seed(options.Seed);
        var tokenizer = TokenizerFor(cfg);
        var generator = new TextGenerator(new LanguageModel(cfg) { Kernel = options.Kernel }, tokenizer, ownsModel: true);
        var defaults = new GenerationOptions { StopAtEndOfText = false, Sampling = SamplingOptions.Greedy };
        using var chat = new DiffTransformerChatClient(generator, "bench", defaults: defaults, ownsGenerator: true);
        int most = options.Clients.Max();
        var serverOptions = new OpenAiServerOptions { Port = 0, MaxBatchSize = most, MaxWaiting = most, MaxConnections = most + 8 };
        using var server = new OpenAiServer(chat, serverOptions);
        server.Start();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = most + 1 })
        {
            BaseAddress = server.Address,
            Timeout = options.TimeLimit + TimeSpan.FromMinutes(5),
        };
        string prompt = Prompt(tokenizer, options.PromptTokens);
        int promptTokens = generator.PreparePrompt(prompt, defaults, out _).Length;

        await Request(http, prompt, Math.Min(8, options.MaxTokens), ct).ConfigureAwait(false);   // warm-up: JIT, first allocations
        var measurements = options.Clients.Distinct().Select(c => new ServeMeasurement(c)).ToList();
        for (int r = 0; r < options.Repeats; r++)
            for (int i = 0; i < measurements.Count; i++)
            {
                var m = measurements[(i + r) % measurements.Count];   // rotating order: a neighbour's load slows all alike
                await Measure(server, http, prompt, m, options, ct).ConfigureAwait(false);
                progress?.Report($"round {r + 1}/{options.Repeats}: {m.Clients,3} clients: {m.AggregateTokensPerSecond[^1],8:F1} tok/s aggregate, mean batch {m.MeanBatch[^1]:F1}");
            }
        server.Stop();
        await server.Completion.ConfigureAwait(false);
        return new ServeBenchmarkResult(options, [.. measurements.OrderBy(m => m.Clients)], get_num_threads(), tokenizer.Name, promptTokens,
                                        BenchEnvironment.Describe(), loadBefore, BenchEnvironment.LoadAverage());
    }

    private static async Task Measure(OpenAiServer server, HttpClient http, string prompt, ServeMeasurement m, ServeBenchmarkOptions options, CancellationToken ct)
    {
        var (steps0, rows0, _) = server.Batcher!.Statistics;
        var watch = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, m.Clients).Select(async _ =>
        {
            var done = new List<(double FirstMs, double Seconds, int Tokens)>();
            for (int k = 0; k < options.RequestsPerClient && watch.Elapsed < options.TimeLimit; k++)
                done.Add(await Request(http, prompt, options.MaxTokens, ct).ConfigureAwait(false));
            return done;
        })).ConfigureAwait(false);
        double wall = watch.Elapsed.TotalSeconds;
        var (steps1, rows1, _) = server.Batcher.Statistics;
        long tokens = 0;
        foreach (var (firstMs, seconds, n) in perClient.SelectMany(x => x))
        {
            m.FirstTokenMs.Add(firstMs);
            m.LatencySeconds.Add(seconds);
            m.StreamTokensPerSecond.Add(n / seconds);
            if (n > 1) m.PerTokenMs.Add((seconds * 1000 - firstMs) / (n - 1));
            tokens += n;
        }
        m.Tokens += tokens;
        m.AggregateTokensPerSecond.Add(tokens / wall);
        m.MeanBatch.Add(steps1 > steps0 ? (double)(rows1 - rows0) / (steps1 - steps0) : 1);
    }

    /// <summary>One streamed completion: ms to the first text, seconds to the end of the stream, completion tokens (from its usage).</summary>
    private static async Task<(double FirstMs, double Seconds, int Tokens)> Request(HttpClient http, string prompt, int maxTokens, CancellationToken ct)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object> { ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["stream"] = true });
        var watch = Stopwatch.StartNew();
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var res = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"the server answered {(int)res.StatusCode}: {await res.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        double? first = null;
        int tokens = -1;
        bool finished = false;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            if (line == "data: [DONE]") { finished = true; break; }
            first ??= watch.Elapsed.TotalMilliseconds;
            using var doc = JsonDocument.Parse(line["data: ".Length..]);
            if (doc.RootElement.TryGetProperty("usage", out var usage)) tokens = usage.GetProperty("completion_tokens").GetInt32();
        }
        if (!finished || tokens < 0) throw new InvalidOperationException("a stream ended without its usage and [DONE]");
        return (first ?? watch.Elapsed.TotalMilliseconds, watch.Elapsed.TotalSeconds, tokens);
    }

    /// <summary>The first tokenizer whose vocabulary fits the model's (byte for the small presets, cl100k_base for the paper's).</summary>
    private static ITokenizer TokenizerFor(ModelConfig cfg)
    {
        foreach (string name in Tokenizers.Names)
        {
            var t = Tokenizers.Create(name);
            try
            {
                TextGenerator.CheckVocabulary(cfg, t);
                return t;
            }
            catch (ArgumentException)
            {
                // not this one
            }
        }
        throw new ArgumentException($"no tokenizer ({string.Join(", ", Tokenizers.Names)}) fits a vocabulary of {cfg.VocabSize:N0}");
    }

    /// <summary>Plain text of about <paramref name="tokens"/> tokens.</summary>
    private static string Prompt(ITokenizer tokenizer, int tokens)
    {
        var text = new StringBuilder();
        while (tokenizer.Encode(text.ToString()).Length < tokens) text.Append("the quick brown fox jumps over the lazy dog ");
        return tokenizer.Decode(tokenizer.Encode(text.ToString()).AsSpan(0, tokens));
    }
}
