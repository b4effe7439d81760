using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace DiffTransformer.Inference;

/// <summary>
/// An OpenAI-style HTTP endpoint over one model, bound to 127.0.0.1 only (System.Net.HttpListener, no web framework):
/// <c>GET /v1/models</c>, <c>POST /v1/completions</c> and <c>POST /v1/chat/completions</c>, each streaming as
/// server-sent events when the request says <c>"stream": true</c>. Requests are served one at a time (the model is
/// shared); others wait. A bad request gets a 4xx and a JSON body <c>{"error": {"message", "type", …}}</c>; a failure
/// inside generation gets a 500 with the same shape; neither stops the server.
/// Honoured fields: prompt / messages, max_tokens (or max_completion_tokens), temperature, top_p, top_k, seed, stop
/// (a string or a list), stream, n (1 only). Chat messages become a prompt through the chat client's template.
/// </summary>
public sealed class OpenAiServer : IDisposable
{
    /// <summary>Largest accepted request body.</summary>
    public const int MaxBodyBytes = 1 << 20;

    private static readonly JsonSerializerOptions JsonOut = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly DiffTransformerChatClient chat;
    private readonly HttpListener listener = new();
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private readonly Action<string>? log;
    private Task? loop;

    /// <param name="chat">the model, its chat template and default generation options.</param>
    /// <param name="port">TCP port on 127.0.0.1.</param>
    /// <param name="log">one line per request (method, path, status, tokens), or null.</param>
    public OpenAiServer(DiffTransformerChatClient chat, int port, Action<string>? log = null)
    {
        if (port is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "port must be in 1–65535");
        this.chat = chat;
        this.log = log;
        Address = new Uri($"http://127.0.0.1:{port}/");
        listener.Prefixes.Add(Address.ToString());
        listener.Prefixes.Add($"http://localhost:{port}/");   // the same loopback socket, for clients that say localhost
    }

    public Uri Address { get; }

    public string ModelId => chat.Metadata.DefaultModelId ?? "difft";

    /// <summary>Starts listening; requests are handled in the background until <see cref="Stop"/> or disposal.</summary>
    public void Start()
    {
        try
        {
            listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new IOException($"cannot listen on {Address}: {e.Message}", e);
        }
        loop = Task.Run(AcceptLoop);
    }

    /// <summary>Completes when the server stops.</summary>
    public Task Completion => loop ?? Task.CompletedTask;

    public void Stop()
    {
        if (stopping.IsCancellationRequested) return;
        stopping.Cancel();
        if (listener.IsListening) listener.Stop();
    }

    private async Task AcceptLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested || !listener.IsListening)
            {
                break;
            }
            catch (HttpListenerException)
            {
                continue;
            }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    private async Task Handle(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        string path = req.Url?.AbsolutePath.TrimEnd('/') ?? "";
        int status = 200;
        string note = "";
        try
        {
            switch (path)
            {
                case "/v1/models":
                    RequireMethod(req, "GET");
                    await WriteJson(res, 200, new JsonObject
                    {
                        ["object"] = "list",
                        ["data"] = new JsonArray(new JsonObject { ["id"] = ModelId, ["object"] = "model", ["created"] = 0, ["owned_by"] = "difft" }),
                    }).ConfigureAwait(false);
                    break;
                case "/v1/completions":
                case "/v1/chat/completions":
                    RequireMethod(req, "POST");
                    note = await Complete(req, res, chat: path == "/v1/chat/completions").ConfigureAwait(false);
                    break;
                default:
                    throw new HttpError(404, $"no such endpoint: {req.HttpMethod} {path} (served: GET /v1/models, POST /v1/completions, POST /v1/chat/completions)", "not_found_error");
            }
        }
        catch (Exception e)
        {
            (status, string type, string message) = e switch
            {
                HttpError h => (h.Status, h.Type, h.Message),
                PromptTooLongException p => (400, "invalid_request_error", p.Message),
                ArgumentException a => (400, "invalid_request_error", a.Message),
                JsonException j => (400, "invalid_request_error", $"the body is not valid JSON: {j.Message}"),
                OperationCanceledException => (503, "server_error", "the server is stopping"),
                _ => (500, "server_error", $"{e.GetType().Name}: {e.Message}"),
            };
            note = message;
            await TryWriteError(res, status, type, message).ConfigureAwait(false);
        }
        finally
        {
            try { res.Close(); } catch (Exception) { /* the client went away */ }
            log?.Invoke($"{req.HttpMethod} {path} → {status}{(note.Length > 0 ? " " + note : "")}");
        }
    }

    /// <summary>Runs one completion; returns a note for the log.</summary>
    private async Task<string> Complete(HttpListenerRequest req, HttpListenerResponse res, bool chat)
    {
        var body = await ReadBody(req).ConfigureAwait(false);
        var (prompt, options, stream) = chat ? ParseChat(body) : ParseCompletion(body);
        _ = this.chat.Generator.PreparePrompt(prompt, options, out _);   // prompt errors → 400 before waiting for the model
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await gate.WaitAsync(stopping.Token).ConfigureAwait(false);
        try
        {
            using var enumerator = this.chat.Generator.Stream(prompt, options, stopping.Token).GetEnumerator();
            if (!stream)
            {
                GenerationResult? result = null;
                while (result is null && await Task.Run(enumerator.MoveNext).ConfigureAwait(false)) result = enumerator.Current.Result;
                var r = result ?? throw new InvalidOperationException("generation ended without a result");
                var choice = new JsonObject { ["index"] = 0, ["finish_reason"] = Finish(r) };
                if (chat) choice["message"] = new JsonObject { ["role"] = "assistant", ["content"] = r.Text };
                else { choice["text"] = r.Text; choice["logprobs"] = null; }
                await WriteJson(res, 200, new JsonObject
                {
                    ["id"] = id, ["object"] = chat ? "chat.completion" : "text_completion", ["created"] = created, ["model"] = ModelId,
                    ["choices"] = new JsonArray(choice),
                    ["usage"] = Usage(r),
                }).ConfigureAwait(false);
                return $"{r.PromptTokens}+{r.Tokens.Count} tokens, {r.FinishReason}";
            }

            res.StatusCode = 200;
            res.ContentType = "text/event-stream; charset=utf-8";
            res.SendChunked = true;
            res.Headers["Cache-Control"] = "no-cache";
            var output = res.OutputStream;
            if (chat) await WriteEvent(output, Chunk(id, created, chat, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null)).ConfigureAwait(false);
            while (await Task.Run(enumerator.MoveNext).ConfigureAwait(false))
            {
                var c = enumerator.Current;
                if (c.Text.Length > 0)
                    await WriteEvent(output, Chunk(id, created, chat, chat ? new JsonObject { ["content"] = c.Text } : JsonValue.Create(c.Text), null)).ConfigureAwait(false);
                if (c.Result is { } r)
                {
                    var last = Chunk(id, created, chat, chat ? new JsonObject() : JsonValue.Create(""), Finish(r));
                    last["usage"] = Usage(r);
                    await WriteEvent(output, last).ConfigureAwait(false);
                    await output.WriteAsync("data: [DONE]\n\n"u8.ToArray()).ConfigureAwait(false);
                    await output.FlushAsync().ConfigureAwait(false);
                    return $"streamed {r.PromptTokens}+{r.Tokens.Count} tokens, {r.FinishReason}";
                }
            }
            return "stream ended";
        }
        finally
        {
            gate.Release();
        }
    }

    private JsonObject Chunk(string id, long created, bool chat, JsonNode delta, string? finish)
    {
        var choice = new JsonObject { ["index"] = 0 };
        if (chat) choice["delta"] = delta;
        else { choice["text"] = delta; choice["logprobs"] = null; }
        choice["finish_reason"] = finish;
        return new JsonObject
        {
            ["id"] = id, ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["created"] = created, ["model"] = ModelId,
            ["choices"] = new JsonArray(choice),
        };
    }

    private static string Finish(GenerationResult r) => r.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? "length" : "stop";

    private static JsonObject Usage(GenerationResult r) => new()
    {
        ["prompt_tokens"] = r.PromptTokens, ["completion_tokens"] = r.Tokens.Count, ["total_tokens"] = r.PromptTokens + r.Tokens.Count,
    };

    // ---- request parsing ----

    private (string Prompt, GenerationOptions Options, bool Stream) ParseCompletion(JsonObject body)
    {
        var p = body["prompt"];
        string prompt = p switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonArray { Count: 1 } a when a[0] is JsonValue s && s.GetValueKind() == JsonValueKind.String => s.GetValue<string>(),
            JsonArray => throw new HttpError(400, "'prompt' as a list must hold exactly one string (batches are not served)"),
            _ => throw new HttpError(400, "'prompt' must be a string"),
        };
        return (prompt, Options(body, chat: false), Bool(body, "stream") ?? false);
    }

    private (string Prompt, GenerationOptions Options, bool Stream) ParseChat(JsonObject body)
    {
        if (body["messages"] is not JsonArray list || list.Count == 0) throw new HttpError(400, "'messages' must be a non-empty list");
        var messages = new List<ChatMessage>();
        foreach (var item in list)
        {
            if (item is not JsonObject m) throw new HttpError(400, "each message must be an object with 'role' and 'content'");
            string role = Str(m, "role") ?? throw new HttpError(400, "a message has no 'role'");
            string content = m["content"] switch
            {
                null => "",
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                JsonValue v when v.GetValueKind() == JsonValueKind.Null => "",
                JsonArray parts => string.Concat(parts.Select(x => x is JsonObject o && Str(o, "type") == "text" ? Str(o, "text") ?? ""
                    : throw new HttpError(400, "only text content parts ({\"type\": \"text\", \"text\": …}) are served"))),
                _ => throw new HttpError(400, "'content' must be a string or a list of text parts"),
            };
            messages.Add(new ChatMessage(new ChatRole(role), content));
        }
        var chatOptions = new ChatOptions { StopSequences = StopList(body) };
        var options = Options(body, chat: true);
        string prompt = chat.FormatPrompt(messages, chatOptions);
        return (prompt, options with { StopStrings = [.. chat.Template.StopStrings, .. options.StopStrings] }, Bool(body, "stream") ?? false);
    }

    private GenerationOptions Options(JsonObject body, bool chat)
    {
        if (Num(body, "n") is double n && n != 1) throw new HttpError(400, $"'n' must be 1 (one completion per request), got {n}");
        var d = this.chat.Defaults;
        var s = d.Sampling;
        int? maxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens");
        var sampling = s with
        {
            Temperature = Num(body, "temperature") ?? s.Temperature,
            TopP = Num(body, "top_p") ?? s.TopP,
            TopK = Int(body, "top_k") ?? s.TopK,
            Seed = Long(body, "seed") ?? s.Seed,
        };
        return (d with
        {
            MaxNewTokens = maxTokens ?? d.MaxNewTokens,
            Sampling = sampling,
            StopStrings = [.. d.StopStrings, .. StopList(body) ?? []],
        }).Validate();
    }

    private static List<string>? StopList(JsonObject body) => body["stop"] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        JsonArray a => [.. a.Select(x => x is JsonValue sv && sv.GetValueKind() == JsonValueKind.String ? sv.GetValue<string>() : throw new HttpError(400, "'stop' must be a string or a list of strings"))],
        _ => throw new HttpError(400, "'stop' must be a string or a list of strings"),
    };

    private static JsonValue? Field(JsonObject o, string name, JsonValueKind kind, string what)
    {
        var node = o[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Null) return null;
        if (node is JsonValue value && (value.GetValueKind() == kind || (kind == JsonValueKind.True && value.GetValueKind() == JsonValueKind.False)))
            return value;
        throw new HttpError(400, $"'{name}' must be {what}, got {node.ToJsonString()}");
    }

    private static string? Str(JsonObject o, string name) => Field(o, name, JsonValueKind.String, "a string")?.GetValue<string>();
    private static bool? Bool(JsonObject o, string name) => Field(o, name, JsonValueKind.True, "true or false")?.GetValue<bool>();
    private static double? Num(JsonObject o, string name) => Field(o, name, JsonValueKind.Number, "a number")?.GetValue<double>();

    private static long? Long(JsonObject o, string name)
    {
        var v = Field(o, name, JsonValueKind.Number, "an integer");
        if (v is null) return null;
        return v.TryGetValue<long>(out long l) ? l : throw new HttpError(400, $"'{name}' must be an integer, got {v.ToJsonString()}");
    }

    private static int? Int(JsonObject o, string name)
    {
        long? l = Long(o, name);
        if (l is null) return null;
        return l is >= int.MinValue and <= int.MaxValue ? (int)l : throw new HttpError(400, $"'{name}' is out of range: {l}");
    }

    private static async Task<JsonObject> ReadBody(HttpListenerRequest req)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await req.InputStream.ReadAsync(chunk).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxBodyBytes) throw new HttpError(413, $"the body exceeds {MaxBodyBytes:N0} bytes");
        }
        if (buffer.Length == 0) throw new HttpError(400, "the body is empty; expected a JSON object");
        var node = JsonNode.Parse(buffer.ToArray());
        return node as JsonObject ?? throw new HttpError(400, "the body must be a JSON object");
    }

    private static void RequireMethod(HttpListenerRequest req, string method)
    {
        if (!string.Equals(req.HttpMethod, method, StringComparison.OrdinalIgnoreCase))
            throw new HttpError(405, $"{req.Url?.AbsolutePath} takes {method}, not {req.HttpMethod}");
    }

    // ---- response writing ----

    private static async Task WriteJson(HttpListenerResponse res, int status, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(JsonOut));
        res.StatusCode = status;
        res.ContentType = "application/json; charset=utf-8";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
    }

    private static async Task WriteEvent(Stream output, JsonNode data)
    {
        await output.WriteAsync(Encoding.UTF8.GetBytes("data: " + data.ToJsonString(JsonOut) + "\n\n")).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
    }

    private static async Task TryWriteError(HttpListenerResponse res, int status, string type, string message)
    {
        try
        {
            await WriteJson(res, status, new JsonObject
            {
                ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = null },
            }).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // headers already sent (an error mid-stream) or the client is gone: nothing more to say
        }
    }

    private sealed class HttpError(int status, string message, string type = "invalid_request_error") : Exception(message)
    {
        public int Status { get; } = status;
        public string Type { get; } = type;
    }

    public void Dispose()
    {
        Stop();
        try { loop?.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        listener.Close();
        gate.Dispose();
        stopping.Dispose();
    }
}
