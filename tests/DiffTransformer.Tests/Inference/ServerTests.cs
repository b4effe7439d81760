using System.Net;
using System.Text;
using System.Text.Json;
using DiffTransformer.Inference;

namespace DiffTransformer.Tests.Inference;

public sealed class ServerTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>
{
    private static async Task<(HttpStatusCode Status, string Body)> Post(HttpClient http, string path, string json)
    {
        using var res = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (res.StatusCode, await res.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ServesCompletionsAndChatStreamingOrNotAndAnswersBadRequestsWithJsonErrors()
    {
        using var chat = DiffTransformerChatClient.Load(checkpoints.Diff);
        using var server = new OpenAiServer(chat, port: 0);
        server.Start();
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };

        // a completion equals the generator's output for the same seed and options
        var (status, body) = await Post(http, "v1/completions", """{"prompt": "Hello", "max_tokens": 12, "temperature": 0.8, "top_p": 0.9, "seed": 5, "stop": ["zzz"]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var expected = chat.Generator.Generate("Hello", new GenerationOptions { MaxNewTokens = 12, StopStrings = ["zzz"], Sampling = new() { Temperature = 0.8, TopP = 0.9, Seed = 5 } });
        using (var doc = JsonDocument.Parse(body))
        {
            var choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
            Assert.Equal(expected.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? "length" : "stop", choice.GetProperty("finish_reason").GetString());
            Assert.Equal(expected.Tokens.Count, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }

        // streamed as server-sent events, the deltas add up to the same text
        using (var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent("""{"prompt": "Hello", "max_tokens": 12, "temperature": 0.8, "top_p": 0.9, "seed": 5, "stop": "zzz", "stream": true}""", Encoding.UTF8, "application/json"),
        })
        using (var res = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal("text/event-stream", res.Content.Headers.ContentType?.MediaType);
            var events = (await res.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("data: [DONE]", events[^1]);
            var text = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
            Assert.Equal(expected.Text, text);
        }

        // chat, both ways
        const string chatRequest = """{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0, "stream": %s}""";
        (status, body) = await Post(http, "v1/chat/completions", chatRequest.Replace("%s", "false"));
        Assert.Equal(HttpStatusCode.OK, status);
        string reply = JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal(chat.Generator.Generate("User: Hi\nAssistant:", chat.ToGenerationOptions(new() { Temperature = 0, MaxOutputTokens = 6 })).Text, reply);
        (status, body) = await Post(http, "v1/chat/completions", chatRequest.Replace("%s", "true"));
        Assert.Equal(HttpStatusCode.OK, status);
        var deltas = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[..^1]
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : "");
        Assert.Equal(reply, string.Concat(deltas));

        // bad requests: 4xx with a JSON error naming the problem, and the server keeps serving
        (string Path, string Body, HttpStatusCode Status, string Says)[] bad =
        [
            ("v1/completions", "{not json", HttpStatusCode.BadRequest, "not valid JSON"),
            ("v1/completions", "[1, 2]", HttpStatusCode.BadRequest, "JSON object"),
            ("v1/completions", """{"prompt": "x", "temperature": "hot"}""", HttpStatusCode.BadRequest, "'temperature' must be a number"),
            ("v1/completions", """{"prompt": "x", "top_p": 2}""", HttpStatusCode.BadRequest, "top-p"),
            ("v1/completions", """{"prompt": "x", "max_tokens": 0}""", HttpStatusCode.BadRequest, "max new tokens"),
            ("v1/completions", """{"prompt": "x", "n": 3}""", HttpStatusCode.BadRequest, "'n' must be 1"),
            ("v1/completions", "{\"prompt\": \"" + new string('a', 100) + "\"}", HttpStatusCode.BadRequest, "100 tokens"),
            ("v1/chat/completions", """{"messages": []}""", HttpStatusCode.BadRequest, "'messages'"),
            ("v1/chat/completions", """{"messages": [{"content": "x"}]}""", HttpStatusCode.BadRequest, "'role'"),
            ("v1/nothing", "{}", HttpStatusCode.NotFound, "no such endpoint"),
        ];
        foreach (var (path, json, want, says) in bad)
        {
            (status, body) = await Post(http, path, json);
            Assert.Equal(want, status);
            var message = JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString()!;
            Assert.Contains(says, message);
        }
        using (var get = await http.GetAsync("v1/completions")) Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        using (var models = await http.GetAsync("v1/models"))
            Assert.Equal("diff", JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        (status, _) = await Post(http, "v1/completions", """{"prompt": "still here", "max_tokens": 2}""");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task StoppingMidStreamEndsEveryOpenRequestWithAFinalChunk()
    {
        var gen = TextGenerator.Load(checkpoints.Save("long", TinyCheckpoints.Config() with { MaxSeqLen = 4096 }));
        using var chat = new DiffTransformerChatClient(gen, "long", defaults: new GenerationOptions { StopAtEndOfText = false }, ownsGenerator: true);
        var log = new List<string>();
        using var server = new OpenAiServer(chat, new OpenAiServerOptions { Port = 0, ShutdownTimeout = TimeSpan.FromMilliseconds(300) }, l => { lock (log) log.Add(l); });
        server.Start();
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };

        // a completion stream, a chat stream and a plain request, all generating 4,000 tokens when the server stops
        async Task<StreamReader> Open(string path, string json)
        {
            var res = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") },
                                           HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: {", await reader.ReadLineAsync());
            return reader;
        }
        var completion = await Open("v1/completions", """{"prompt": "abc", "max_tokens": 4000, "stream": true}""");
        var chatStream = await Open("v1/chat/completions", """{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4000, "stream": true}""");
        var plain = Post(http, "v1/completions", """{"prompt": "abc", "max_tokens": 4000}""");
        for (int i = 0; i < 500 && server.Batcher!.Statistics.LargestBatch < 3; i++) await Task.Delay(10);
        Assert.Equal(3, server.Batcher!.Statistics.LargestBatch);
        server.Stop();

        foreach (var reader in new[] { completion, chatStream })
        {
            var events = (await reader.ReadToEndAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("data: [DONE]", events[^1]);
            using var last = JsonDocument.Parse(events[^2]["data: ".Length..]);
            Assert.Equal("length", last.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
            Assert.InRange(last.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 3999);
        }
        var (status, body) = await plain;
        Assert.Equal(HttpStatusCode.OK, status);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal("length", doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
            Assert.InRange(doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 3999);
        }
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(15));
        lock (log)
        {
            Assert.Equal(3, log.Count(l => l.Contains("→ 200") && l.Contains("Interrupted")));
            Assert.DoesNotContain(log, l => l.Contains("→ 500"));
        }
    }
}
