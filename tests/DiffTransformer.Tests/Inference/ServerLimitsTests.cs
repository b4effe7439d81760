using System.Diagnostics;
using System.Net;
using System.Text;
using DiffTransformer.Inference;

namespace DiffTransformer.Tests.Inference;

/// <summary>The server's limits and its answers to malformed or hostile requests: JSON errors, never a stall for others.</summary>
public sealed class ServerLimitsTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>
{
    private const string Completions = "POST /v1/completions HTTP/1.1\r\nContent-Type: application/json";

    private (DiffTransformerChatClient Chat, OpenAiServer Server, List<string> Log) Start(OpenAiServerOptions? options = null, string? model = null, GenerationOptions? defaults = null)
    {
        var chat = DiffTransformerChatClient.Load(model ?? checkpoints.Diff, defaults: defaults);
        var log = new List<string>();
        var server = new OpenAiServer(chat, (options ?? new()) with { Port = 0 }, line => { lock (log) log.Add(line); });
        server.Start();
        return (chat, server, log);
    }

    private static async Task<HttpStatusCode> Complete(HttpClient http, int tokens = 2)
    {
        using var res = await http.PostAsync("v1/completions", new StringContent($$"""{"prompt": "Hi", "max_tokens": {{tokens}}}""", Encoding.UTF8, "application/json"));
        return res.StatusCode;
    }

    [Fact]
    public async Task ClientsThatNeverFinishTheirBodyDelayNobodyAndGet408()
    {
        var (chat, server, _) = Start(new() { BodyTimeout = TimeSpan.FromSeconds(3) });
        using (chat)
        using (server)
        {
            using var http = new HttpClient { BaseAddress = server.Address };
            Assert.Equal(HttpStatusCode.OK, await Complete(http));   // warm
            var stalled = new List<System.Net.Sockets.TcpClient>();
            for (int i = 0; i < 32; i++) stalled.Add(await RawHttp.Open(server.Address, Completions + "\r\nContent-Length: 100", "{\"pro"u8.ToArray()));
            var watch = Stopwatch.StartNew();
            Assert.Equal(HttpStatusCode.OK, await Complete(http));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"a normal request took {watch.Elapsed.TotalSeconds:F1} s beside 32 stalled bodies");
            foreach (var tcp in stalled)
            {
                var r = await RawHttp.Read(tcp, TimeSpan.FromSeconds(20));
                Assert.Equal(408, r.Status);
                Assert.Contains("did not arrive within 3 s", r.ErrorMessage);
                tcp.Dispose();
            }
        }
    }

    [Fact]
    public async Task StreamsTheirClientsDoNotReadHoldUpNobodyAndEndWhenTheClientLeaves()
    {
        string model = checkpoints.Save("long", TinyCheckpoints.Config() with { MaxSeqLen = 4096 });
        // no minimum data rate: the unread stream ends only because its client leaves; greedy and deaf to end-of-text, so
        // that its generation runs for the whole context (a sampled one could end at end-of-text before the other joins)
        var (chat, server, log) = Start(new() { MaxBatchSize = 4, MinBytesPerSecond = 0 }, model, new GenerationOptions { StopAtEndOfText = false, Sampling = SamplingOptions.Greedy });
        using (chat)
        using (server)
        {
            using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(120) };
            Assert.Equal(HttpStatusCode.OK, await Complete(http));   // warm
            // a client that asks for 4,000 streamed tokens and never reads a byte of them
            var deaf = new System.Net.Sockets.TcpClient { ReceiveBufferSize = 4096 };
            await deaf.ConnectAsync(server.Address.Host, server.Address.Port);
            byte[] body = """{"prompt": "abc", "max_tokens": 4000, "stream": true}"""u8.ToArray();
            await deaf.GetStream().WriteAsync(Encoding.ASCII.GetBytes(Completions + $"\r\nHost: {server.Address.Authority}\r\nContent-Length: {body.Length}\r\n\r\n"));
            await deaf.GetStream().WriteAsync(body);
            var waited = Stopwatch.StartNew();
            while (waited.Elapsed < TimeSpan.FromSeconds(30) && server.Batcher!.Statistics.Steps < 20) await Task.Delay(10);
            Assert.True(server.Batcher!.Statistics.Steps >= 20, $"the unread stream's generation did not run ({server.Batcher.Statistics.Steps} steps in {waited.Elapsed.TotalSeconds:F0} s)");

            using (var res = await http.PostAsync("v1/completions", new StringContent("""{"prompt": "Hi", "max_tokens": 20, "stream": true, "temperature": 0}""", Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.OK, res.StatusCode);
                Assert.EndsWith("data: [DONE]\n\n", await res.Content.ReadAsStringAsync());
            }
            Assert.False(DeafEnded(), "the other stream waited for the unread one to end");
            Assert.Equal(2, server.Batcher!.Statistics.LargestBatch);   // the two were decoded together

            deaf.Dispose();   // the client goes away: its request ends and its sequence leaves the batch
            waited.Restart();
            while (waited.Elapsed < TimeSpan.FromSeconds(30) && !DeafEnded()) await Task.Delay(10);
            Assert.True(DeafEnded(), "the unread stream's request did not end after its client left");
            Assert.Equal(HttpStatusCode.OK, await Complete(http));
        }

        bool DeafEnded()
        {
            lock (log) return log.Any(l => l.Contains("→ 499") || l.Contains("+4000 tokens"));
        }
    }

    [Fact]
    public async Task BadTextAndMissingOrOversizedBodiesGetJsonErrors()
    {
        var (chat, server, log) = Start(new() { MaxBodyBytes = 1000 });
        using (chat)
        using (server)
        {
            // not UTF-8: a stray continuation byte inside the prompt
            byte[] bad = [.. "{\"prompt\": \"ab"u8, 0x80, .. "\"}"u8];
            var r = await RawHttp.Send(server.Address, Completions + $"\r\nContent-Length: {bad.Length}", bad);
            Assert.Equal(400, r.Status);
            Assert.Contains("not valid UTF-8 (at byte 14)", r.ErrorMessage);

            // a lone surrogate, spelled as JSON allows
            byte[] lone = """{"prompt": "x\ud800y"}"""u8.ToArray();
            r = await RawHttp.Send(server.Address, Completions + $"\r\nContent-Length: {lone.Length}", lone);
            Assert.Equal(400, r.Status);
            Assert.Contains("$.prompt holds a lone surrogate", r.ErrorMessage);

            // a POST without a body (no Content-Length, not chunked) and one with an empty body
            foreach (string head in new[] { Completions, Completions + "\r\nContent-Length: 0" })
            {
                r = await RawHttp.Send(server.Address, head);
                Assert.Equal(400, r.Status);
                Assert.Contains("the body is empty", r.ErrorMessage);
            }

            // too large: declared, and chunked without a declared length
            r = await RawHttp.Send(server.Address, Completions + "\r\nContent-Length: 5000", new byte[5000]);
            Assert.Equal(413, r.Status);
            Assert.Contains("the body exceeds 1,000 bytes", r.ErrorMessage);
            var chunked = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("100\r\n" + new string(' ', 256) + "\r\n", 8)) + "0\r\n\r\n");
            r = await RawHttp.Send(server.Address, Completions + "\r\nTransfer-Encoding: chunked", chunked);
            Assert.Equal(413, r.Status);
            Assert.Contains("the body exceeds 1,000 bytes", r.ErrorMessage);

            // the server still serves
            using var http = new HttpClient { BaseAddress = server.Address };
            Assert.Equal(HttpStatusCode.OK, await Complete(http));
            lock (log) Assert.DoesNotContain(log, l => l.Contains("→ 500"));
        }
    }

    [Fact]
    public async Task LongUnknownPathsAreNeitherEchoedNorLoggedInFull()
    {
        var (chat, server, log) = Start();
        using (chat)
        using (server)
        {
            string path = "/" + new string('x', 6000);
            var r = await RawHttp.Send(server.Address, $"GET {path} HTTP/1.1");
            Assert.Equal(404, r.Status);
            Assert.Contains("no such endpoint: GET /xxx", r.ErrorMessage);
            Assert.Contains("(6,001 characters)", r.ErrorMessage);
            Assert.True(r.Body.Length < 400, $"the 404 body is {r.Body.Length} characters long");
            // a request line past Kestrel's limit (8 KB) is refused before it reaches the server: no echo either
            r = await RawHttp.Send(server.Address, $"GET /{new string('y', 100_000)} HTTP/1.1");
            Assert.Equal(414, r.Status);
            Assert.DoesNotContain("yyyy", r.Body);
            // control characters in a path do not reach the log raw
            r = await RawHttp.Send(server.Address, "GET /a%0Ab HTTP/1.1");
            Assert.Equal(404, r.Status);
            lock (log)
            {
                Assert.All(log, l => Assert.True(l.Length < 300, $"log line of {l.Length} characters"));
                Assert.All(log, l => Assert.DoesNotContain('\n', l));
                Assert.Contains(log, l => l.Contains("/a\\u000ab → 404"));
            }
        }
    }
}
