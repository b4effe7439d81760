using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DiffTransformer.Inference;

/// <summary>
/// An OpenAI-style HTTP endpoint over one model, on ASP.NET Core's Kestrel bound to 127.0.0.1 only:
/// <c>GET /v1/models</c>, <c>POST /v1/completions</c> and <c>POST /v1/chat/completions</c>, each streaming as
/// server-sent events when the request says <c>"stream": true</c>. Requests are decoded together
/// (<see cref="ContinuousBatcher"/>: a new one joins the running batch at the next token, a finished one leaves).
/// <para>
/// Limits (<see cref="OpenAiServerOptions"/>): headers and body must arrive in time and above a minimum data rate, the
/// body is bounded, connections and waiting requests are bounded; so a slow or silent client holds up nobody but
/// itself. Every failure that reaches the server is answered with a JSON body <c>{"error": {"message", "type", …}}</c>:
/// 400 for a bad request (including text that is not UTF-8 or holds a lone surrogate), 404/405 for a wrong path or
/// method (the path is quoted shortened), 408 for a body too slow, 413 for one too large, 503 when busy or stopping,
/// 500 (without exception text, which goes to the log) for a fault inside generation. A failure after a stream
/// has started ends it with an <c>error</c> event. <see cref="Stop"/> refuses new requests (503) and lets open ones run
/// on for <see cref="OpenAiServerOptions.ShutdownTimeout"/>; then each ends with a final chunk (finish reason "length",
/// with its usage) and, when streamed, <c>[DONE]</c>.
/// </para>
/// Honoured fields: prompt / messages, max_tokens (or max_completion_tokens), temperature, top_p, top_k, seed, stop
/// (a string or a list), stream, n (1 only). Chat messages become a prompt through the chat client's template.
/// </summary>
public sealed class OpenAiServer : IDisposable
{
    private static readonly JsonSerializerOptions JsonOut = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private const string Served = "served: GET /v1/models, POST /v1/completions, POST /v1/chat/completions";

    private readonly DiffTransformerChatClient chat;
    private readonly OpenAiServerOptions options;
    private readonly Action<string>? log;
    private readonly CancellationTokenSource stopping = new();
    private readonly object stateLock = new();
    private WebApplication? app;
    private Task? stopTask;
    private ContinuousBatcher? batcher;

    /// <param name="chat">the model, its chat template and default generation options.</param>
    /// <param name="port">TCP port on 127.0.0.1 (0: a free one).</param>
    /// <param name="log">one line per request (method, path, status, tokens), or null.</param>
    public OpenAiServer(DiffTransformerChatClient chat, int port, Action<string>? log = null)
        : this(chat, new OpenAiServerOptions { Port = port }, log)
    {
    }

    /// <param name="chat">the model, its chat template and default generation options.</param>
    /// <param name="options">port and limits.</param>
    /// <param name="log">one line per request (method, path, status, tokens), or null.</param>
    public OpenAiServer(DiffTransformerChatClient chat, OpenAiServerOptions options, Action<string>? log = null)
    {
        try
        {
            this.options = options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(nameof(options), e.Message);
        }
        this.chat = chat;
        this.log = log;
        Address = new Uri($"http://127.0.0.1:{options.Port}/");
    }

    /// <summary>The root URL; after <see cref="Start"/> it holds the port actually bound.</summary>
    public Uri Address { get; private set; }

    public string ModelId => chat.Metadata.DefaultModelId ?? "difft";

    public OpenAiServerOptions Options => options;

    /// <summary>The batch the requests are decoded in (its statistics say how full it ran); null before <see cref="Start"/>.</summary>
    public ContinuousBatcher? Batcher => batcher;

    /// <summary>Starts listening; requests are handled in the background until <see cref="Stop"/> or disposal.</summary>
    public void Start()
    {
        lock (stateLock)
        {
            if (app is not null) throw new InvalidOperationException("the server was started already");
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());   // no configuration files, environment or logging of its own
            builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
            {
                k.AddServerHeader = false;
                k.Listen(System.Net.IPAddress.Loopback, options.Port, l => l.Protocols = HttpProtocols.Http1);
                var limits = k.Limits;
                limits.MaxRequestBodySize = options.MaxBodyBytes;
                limits.RequestHeadersTimeout = options.HeadersTimeout;
                limits.KeepAliveTimeout = options.KeepAliveTimeout;
                limits.MaxConcurrentConnections = options.MaxConnections;
                limits.MinRequestBodyDataRate = options.MinBytesPerSecond > 0 ? new MinDataRate(options.MinBytesPerSecond, options.DataRateGrace) : null;
                limits.MinResponseDataRate = options.MinBytesPerSecond > 0 ? new MinDataRate(options.MinBytesPerSecond, options.DataRateGrace) : null;
            });
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(5));
            batcher = new ContinuousBatcher(chat.Generator, options.MaxBatchSize, options.MaxWaiting);
            var web = builder.Build();
            web.Run(Handle);
            try
            {
                web.StartAsync().GetAwaiter().GetResult();
            }
            catch (IOException e)
            {
                ((IDisposable)web).Dispose();
                batcher.Dispose();
                batcher = null;
                throw new IOException($"cannot listen on {Address}: {e.Message}", e);
            }
            var bound = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            if (bound is not null) Address = new Uri(bound.TrimEnd('/') + "/");
            app = web;
        }
    }

    /// <summary>Completes when the server has stopped (at once if it never started).</summary>
    public Task Completion
    {
        get
        {
            lock (stateLock) return stopTask ?? (app is null ? Task.CompletedTask : StoppedSignal.Task);
        }
    }

    private TaskCompletionSource StoppedSignal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Begins stopping: new requests get 503; returns at once (<see cref="Completion"/> says when it is done).</summary>
    public void Stop()
    {
        lock (stateLock)
        {
            if (stopTask is not null) return;
            stopping.Cancel();
            stopTask = app is null || batcher is null ? Task.CompletedTask : StopCore(app, batcher);
        }
    }

    /// <summary>
    /// Kestrel stops accepting connections and waits for the requests in flight, while the batcher lets their
    /// generations run on for <see cref="OpenAiServerOptions.ShutdownTimeout"/> and then ends each with a final chunk,
    /// so every open stream closes with its usage and <c>[DONE]</c>.
    /// </summary>
    private async Task StopCore(WebApplication web, ContinuousBatcher b)
    {
        try
        {
            var drained = b.StopAsync(options.ShutdownTimeout);
            var host = web.StopAsync();
            await drained.ConfigureAwait(false);
            await host.ConfigureAwait(false);
        }
        finally
        {
            StoppedSignal.TrySetResult();
        }
    }

    private async Task Handle(HttpContext ctx)
    {
        var req = ctx.Request;
        string method = req.Method;
        string path = req.Path.Value?.TrimEnd('/') ?? "";
        int status = 200;
        string note = "";
        try
        {
            if (stopping.IsCancellationRequested) throw new OpenAiError(503, "the server is stopping", "server_error");
            switch (path)
            {
                case "/v1/models":
                    RequireMethod(req, "GET");
                    await WriteJson(ctx.Response, 200, new JsonObject
                    {
                        ["object"] = "list",
                        ["data"] = new JsonArray(new JsonObject { ["id"] = ModelId, ["object"] = "model", ["created"] = 0, ["owned_by"] = "difft" }),
                    }, ctx.RequestAborted).ConfigureAwait(false);
                    break;
                case "/v1/completions":
                case "/v1/chat/completions":
                    RequireMethod(req, "POST");
                    note = await Complete(ctx, chatPath: path == "/v1/chat/completions").ConfigureAwait(false);
                    break;
                default:
                    throw new OpenAiError(404, $"no such endpoint: {OpenAiRequest.Shorten(method, 16)} {OpenAiRequest.Shorten(path)} ({Served})", "not_found_error");
            }
            status = ctx.Response.StatusCode;
        }
        catch (Exception) when (ctx.RequestAborted.IsCancellationRequested)
        {
            status = 499;
            note = "the client went away";
        }
        catch (Exception e)
        {
            (status, string type, string message, note) = Describe(e);
            await TryWriteError(ctx.Response, status, type, message).ConfigureAwait(false);
        }
        finally
        {
            log?.Invoke($"{OpenAiRequest.Shorten(method, 16)} {OpenAiRequest.Shorten(path)} → {status}{(note.Length > 0 ? " " + note : "")}");
        }
    }

    /// <summary>Status, error type and client message of a failure, and the note for the log.</summary>
    private (int Status, string Type, string Message, string Note) Describe(Exception e)
    {
        var (status, type, message) = e switch
        {
            OpenAiError h => ((int, string, string))(h.Status, h.Type, h.Message),
            PromptTooLongException p => (400, "invalid_request_error", p.Message),
            BadHttpRequestException { StatusCode: 413 } => (413, "invalid_request_error", $"the body exceeds {options.MaxBodyBytes:N0} bytes"),
            BadHttpRequestException { StatusCode: 408 } => (408, "invalid_request_error", $"the body arrived too slowly (under {options.MinBytesPerSecond:0.#} bytes/s)"),
            BadHttpRequestException b => (b.StatusCode, "invalid_request_error", b.Message),
            OperationCanceledException when stopping.IsCancellationRequested => (503, "server_error", "the server is stopping"),
            _ => (500, "server_error", "the server failed to complete the request (the failure is in its log)"),
        };
        return (status, type, message, status == 500 ? $"{e.GetType().Name}: {e.Message}" : message);
    }

    /// <summary>Runs one completion; returns a note for the log.</summary>
    private async Task<string> Complete(HttpContext ctx, bool chatPath)
    {
        var body = OpenAiRequest.ParseBody(await ReadBody(ctx.Request, ctx.RequestAborted).ConfigureAwait(false));
        var r = chatPath ? OpenAiRequest.ChatCompletion(body, chat) : OpenAiRequest.Completion(body, chat);
        string id = (r.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var res = ctx.Response;
        var ct = ctx.RequestAborted;
        var chunks = Generate(r, ct);   // prompt errors → 400 here, before waiting for the model

        if (!r.Stream)
        {
            GenerationResult? result = null;
            await foreach (var c in chunks.ConfigureAwait(false)) result ??= c.Result;
            var done = result ?? throw new InvalidOperationException("generation ended without a result");
            var choice = new JsonObject { ["index"] = 0, ["finish_reason"] = Finish(done) };
            if (r.Chat) choice["message"] = new JsonObject { ["role"] = "assistant", ["content"] = done.Text };
            else { choice["text"] = done.Text; choice["logprobs"] = null; }
            await WriteJson(res, 200, new JsonObject
            {
                ["id"] = id, ["object"] = r.Chat ? "chat.completion" : "text_completion", ["created"] = created, ["model"] = ModelId,
                ["choices"] = new JsonArray(choice),
                ["usage"] = Usage(done),
            }, ct).ConfigureAwait(false);
            return $"{done.PromptTokens}+{done.Tokens.Count} tokens, {done.FinishReason}";
        }

        res.StatusCode = 200;
        res.ContentType = "text/event-stream; charset=utf-8";
        res.Headers.CacheControl = "no-cache";
        if (r.Chat) await WriteEvent(res, Chunk(id, created, r.Chat, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null), ct).ConfigureAwait(false);
        await foreach (var c in chunks.ConfigureAwait(false))
        {
            if (c.Text.Length > 0)
                await WriteEvent(res, Chunk(id, created, r.Chat, r.Chat ? new JsonObject { ["content"] = c.Text } : JsonValue.Create(c.Text), null), ct).ConfigureAwait(false);
            if (c.Result is { } done)
            {
                var last = Chunk(id, created, r.Chat, r.Chat ? new JsonObject() : JsonValue.Create(""), Finish(done));
                last["usage"] = Usage(done);
                await WriteEvent(res, last, ct).ConfigureAwait(false);
                await res.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct).ConfigureAwait(false);
                await res.Body.FlushAsync(ct).ConfigureAwait(false);
                return $"streamed {done.PromptTokens}+{done.Tokens.Count} tokens, {done.FinishReason}";
            }
        }
        throw new InvalidOperationException("generation ended without a result");
    }

    /// <summary>The request's chunks as the batch produces them; the last one carries the result.</summary>
    private IAsyncEnumerable<GenerationChunk> Generate(OpenAiRequest r, CancellationToken ct)
    {
        var b = batcher ?? throw new InvalidOperationException("the server has not started");
        try
        {
            return b.Stream(r.Prompt, r.Options, ct);
        }
        catch (GenerationRefusedException e)
        {
            throw new OpenAiError(503, e.Message, "server_error");
        }
    }

    private JsonObject Chunk(string id, long created, bool chatPath, JsonNode delta, string? finish)
    {
        var choice = new JsonObject { ["index"] = 0 };
        if (chatPath) choice["delta"] = delta;
        else { choice["text"] = delta; choice["logprobs"] = null; }
        choice["finish_reason"] = finish;
        return new JsonObject
        {
            ["id"] = id, ["object"] = chatPath ? "chat.completion.chunk" : "text_completion", ["created"] = created, ["model"] = ModelId,
            ["choices"] = new JsonArray(choice),
        };
    }

    /// <summary>OpenAI's finish reason: "length" when a limit cut the text (tokens, context, or the server stopping), else "stop".</summary>
    private static string Finish(GenerationResult r) => r.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull or FinishReason.Interrupted ? "length" : "stop";

    private static JsonObject Usage(GenerationResult r) => new()
    {
        ["prompt_tokens"] = r.PromptTokens, ["completion_tokens"] = r.Tokens.Count, ["total_tokens"] = r.PromptTokens + r.Tokens.Count,
    };

    /// <summary>The body, which must arrive whole within the body timeout (Kestrel enforces the size limit and the data rate).</summary>
    private async Task<byte[]> ReadBody(HttpRequest req, CancellationToken aborted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(options.BodyTimeout);
        using var buffer = new MemoryStream();
        try
        {
            await req.Body.CopyToAsync(buffer, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            throw new OpenAiError(408, $"the body did not arrive within {options.BodyTimeout.TotalSeconds:0.###} s");
        }
        return buffer.ToArray();
    }

    private static void RequireMethod(HttpRequest req, string method)
    {
        if (!string.Equals(req.Method, method, StringComparison.OrdinalIgnoreCase))
            throw new OpenAiError(405, $"{req.Path.Value} takes {method}, not {OpenAiRequest.Shorten(req.Method, 16)}");
    }

    // ---- response writing ----

    private static async Task WriteJson(HttpResponse res, int status, JsonNode body, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(JsonOut));
        res.StatusCode = status;
        res.ContentType = "application/json; charset=utf-8";
        res.ContentLength = bytes.Length;
        await res.Body.WriteAsync(bytes, ct).ConfigureAwait(false);
    }

    private static async Task WriteEvent(HttpResponse res, JsonNode data, CancellationToken ct)
    {
        await res.Body.WriteAsync(Encoding.UTF8.GetBytes("data: " + data.ToJsonString(JsonOut) + "\n\n"), ct).ConfigureAwait(false);
        await res.Body.FlushAsync(ct).ConfigureAwait(false);
    }

    private static JsonObject ErrorBody(string type, string message) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = null },
    };

    /// <summary>The error as a JSON response, or, when a stream has begun, as its last event.</summary>
    private static async Task TryWriteError(HttpResponse res, int status, string type, string message)
    {
        try
        {
            if (!res.HasStarted)
                await WriteJson(res, status, ErrorBody(type, message), CancellationToken.None).ConfigureAwait(false);
            else if (res.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
                await WriteEvent(res, ErrorBody(type, message), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // the client is gone: nothing more to say
        }
    }

    public void Dispose()
    {
        Stop();
        try
        {
            Completion.Wait(options.ShutdownTimeout + TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }
        lock (stateLock)
        {
            if (app is not null) ((IDisposable)app).Dispose();
        }
        batcher?.Dispose();
        stopping.Dispose();
    }
}
