using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Microsoft.Extensions.AI;

namespace DiffTransformer.Inference;

/// <summary>
/// One request to <c>/v1/completions</c> or <c>/v1/chat/completions</c>, read from its JSON body: the prompt (chat
/// messages become one through the chat client's template), the generation options (the client's defaults where a
/// field is left out) and whether to stream. Every fault is an <see cref="OpenAiError"/> (400) naming the field.
/// </summary>
internal sealed record OpenAiRequest(string Prompt, GenerationOptions Options, bool Stream, bool Chat)
{
    /// <summary>
    /// The body as a JSON object. Text that is not UTF-8, or a string holding a lone surrogate (<c>"\ud800"</c>, which
    /// JSON can spell but no text contains), is refused here, before any of it reaches the tokenizer.
    /// </summary>
    public static JsonObject ParseBody(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) throw new OpenAiError(400, "the body is empty; expected a JSON object");
        var buffer = ArrayPool<char>.Shared.Rent(Math.Min(body.Length, 4096));
        try
        {
            for (var rest = body; !rest.IsEmpty;)
            {
                var status = Utf8.ToUtf16(rest, buffer, out int read, out _, replaceInvalidSequences: false);
                if (status == OperationStatus.InvalidData)
                    throw new OpenAiError(400, $"the body is not valid UTF-8 (at byte {body.Length - rest.Length + read})");
                rest = rest[read..];
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException j)
        {
            throw new OpenAiError(400, $"the body is not valid JSON: {j.Message}");
        }
        if (node is not JsonObject o) throw new OpenAiError(400, "the body must be a JSON object");
        CheckText(o, "$");
        return o;
    }

    /// <summary>A <c>/v1/completions</c> body.</summary>
    public static OpenAiRequest Completion(JsonObject body, DiffTransformerChatClient client)
    {
        string prompt = body["prompt"] switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonArray { Count: 1 } a when a[0] is JsonValue s && s.GetValueKind() == JsonValueKind.String => s.GetValue<string>(),
            JsonArray => throw new OpenAiError(400, "'prompt' as a list must hold exactly one string (batches are not served)"),
            _ => throw new OpenAiError(400, "'prompt' must be a string"),
        };
        return new(prompt, ReadOptions(body, client), Bool(body, "stream") ?? false, Chat: false);
    }

    /// <summary>A <c>/v1/chat/completions</c> body.</summary>
    public static OpenAiRequest ChatCompletion(JsonObject body, DiffTransformerChatClient client)
    {
        if (body["messages"] is not JsonArray list || list.Count == 0) throw new OpenAiError(400, "'messages' must be a non-empty list");
        var messages = new List<ChatMessage>();
        foreach (var item in list)
        {
            if (item is not JsonObject m) throw new OpenAiError(400, "each message must be an object with 'role' and 'content'");
            string role = Str(m, "role") ?? throw new OpenAiError(400, "a message has no 'role'");
            string content = m["content"] switch
            {
                null => "",
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                JsonValue v when v.GetValueKind() == JsonValueKind.Null => "",
                JsonArray parts => string.Concat(parts.Select(x => x is JsonObject o && Str(o, "type") == "text" ? Str(o, "text") ?? ""
                    : throw new OpenAiError(400, "only text content parts ({\"type\": \"text\", \"text\": …}) are served"))),
                _ => throw new OpenAiError(400, "'content' must be a string or a list of text parts"),
            };
            messages.Add(new ChatMessage(new ChatRole(role), content));
        }
        var options = ReadOptions(body, client);
        string prompt = client.FormatPrompt(messages, new ChatOptions { StopSequences = StopList(body) });
        return new(prompt, options with { StopStrings = [.. client.Template.StopStrings, .. options.StopStrings] }, Bool(body, "stream") ?? false, Chat: true);
    }

    private static GenerationOptions ReadOptions(JsonObject body, DiffTransformerChatClient client)
    {
        if (Num(body, "n") is double n && n != 1) throw new OpenAiError(400, $"'n' must be 1 (one completion per request), got {n}");
        var d = client.Defaults;
        var s = d.Sampling;
        int? maxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens");
        var sampling = s with
        {
            Temperature = Num(body, "temperature") ?? s.Temperature,
            TopP = Num(body, "top_p") ?? s.TopP,
            TopK = Int(body, "top_k") ?? s.TopK,
            Seed = Long(body, "seed") ?? s.Seed,
        };
        try
        {
            return (d with
            {
                MaxNewTokens = maxTokens ?? d.MaxNewTokens,
                Sampling = sampling,
                StopStrings = [.. d.StopStrings, .. StopList(body) ?? []],
            }).Validate();
        }
        catch (ArgumentException e)
        {
            throw new OpenAiError(400, e.Message);
        }
    }

    private static List<string>? StopList(JsonObject body) => body["stop"] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        JsonArray a => [.. a.Select(x => x is JsonValue sv && sv.GetValueKind() == JsonValueKind.String ? sv.GetValue<string>() : throw new OpenAiError(400, "'stop' must be a string or a list of strings"))],
        _ => throw new OpenAiError(400, "'stop' must be a string or a list of strings"),
    };

    private static JsonValue? Field(JsonObject o, string name, JsonValueKind kind, string what)
    {
        var node = o[name];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Null) return null;
        if (node is JsonValue value && (value.GetValueKind() == kind || (kind == JsonValueKind.True && value.GetValueKind() == JsonValueKind.False)))
            return value;
        throw new OpenAiError(400, $"'{name}' must be {what}, got {Shorten(node.ToJsonString())}");
    }

    private static string? Str(JsonObject o, string name) => Field(o, name, JsonValueKind.String, "a string")?.GetValue<string>();
    private static bool? Bool(JsonObject o, string name) => Field(o, name, JsonValueKind.True, "true or false")?.GetValue<bool>();
    private static double? Num(JsonObject o, string name) => Field(o, name, JsonValueKind.Number, "a number")?.GetValue<double>();

    private static long? Long(JsonObject o, string name)
    {
        var v = Field(o, name, JsonValueKind.Number, "an integer");
        if (v is null) return null;
        return v.TryGetValue<long>(out long l) ? l : throw new OpenAiError(400, $"'{name}' must be an integer, got {Shorten(v.ToJsonString())}");
    }

    private static int? Int(JsonObject o, string name)
    {
        long? l = Long(o, name);
        if (l is null) return null;
        return l is >= int.MinValue and <= int.MaxValue ? (int)l : throw new OpenAiError(400, $"'{name}' is out of range: {l}");
    }

    /// <summary>
    /// Refuses a string or property name anywhere in the tree that is not well-formed UTF-16: System.Text.Json
    /// unescapes lazily and throws <see cref="InvalidOperationException"/> on a lone surrogate, so everything is read once here.
    /// </summary>
    private static void CheckText(JsonNode? node, string where)
    {
        try
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o.ToList()) CheckText(value, $"{where}.{key}");
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) CheckText(a[i], $"{where}[{i}]");
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    _ = v.GetValue<string>();
                    break;
            }
        }
        catch (InvalidOperationException)
        {
            throw new OpenAiError(400, $"{Shorten(where)} holds a lone surrogate (a \\ud800–\\udfff escape without its pair), which is not text");
        }
    }

    /// <summary>At most <paramref name="max"/> characters of <paramref name="s"/>, control characters escaped, and the length when cut.</summary>
    public static string Shorten(string s, int max = 64)
    {
        int keep = s.Length <= max ? s.Length : char.IsHighSurrogate(s[max - 1]) ? max - 1 : max;   // never half a pair
        var b = new System.Text.StringBuilder();
        foreach (char c in s.AsSpan(0, keep))
            b.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        if (s.Length > max) b.Append($"… ({s.Length:N0} characters)");
        return b.ToString();
    }
}
