using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffTransformer.IO;

/// <summary>
/// The project's JSON conventions in one place: snake_case names, enum values as snake_case strings (or their
/// <see cref="JsonStringEnumMemberNameAttribute"/>), indented; on read, unknown members are refused and trailing commas
/// and comments are allowed. Every JSON file the library writes or reads goes through these options.
/// </summary>
public static class Json
{
    /// <summary>The project's options; strings are written as they are (a file, not HTML: keep → ' &lt; &gt; readable).</summary>
    public static JsonSerializerOptions Options { get; } = Create(JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

    /// <summary>
    /// <see cref="Options"/> with non-ASCII and HTML-sensitive characters escaped (<c>ü</c> → <c>\u00FC</c>, <c>+</c> →
    /// <c>\u002B</c>): the form run.json and summary.json have always been written in, kept so that they stay byte for byte
    /// the same. Reading does not depend on it.
    /// </summary>
    public static JsonSerializerOptions Escaped { get; } = Create(encoder: null);

    /// <summary>JSON lines (metrics.jsonl): <see cref="Escaped"/> on one line, null members left out.</summary>
    public static JsonSerializerOptions Lines { get; } = Create(encoder: null, indented: false, JsonIgnoreCondition.WhenWritingNull);

    private static JsonSerializerOptions Create(JavaScriptEncoder? encoder, bool indented = true, JsonIgnoreCondition ignore = JsonIgnoreCondition.Never)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
            WriteIndented = indented,
            DefaultIgnoreCondition = ignore,
            Encoder = encoder,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            AllowTrailingCommas = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>Serialises <paramref name="value"/> with <paramref name="options"/> (default <see cref="Options"/>).</summary>
    public static string Serialize<T>(T value, JsonSerializerOptions? options = null) => JsonSerializer.Serialize(value, options ?? Options);

    /// <summary>Writes <paramref name="value"/> and a newline to <paramref name="path"/> atomically.</summary>
    public static void Write<T>(string path, T value, JsonSerializerOptions? options = null) =>
        AtomicFile.WriteAllText(path, Serialize(value, options) + "\n");

    /// <summary>
    /// Deserialises <paramref name="json"/>; a syntax error, an unknown or missing member or a wrong type throws
    /// <see cref="InvalidDataException"/> "<paramref name="source"/>: message". The JSON literal null gives null.
    /// </summary>
    public static T? Parse<T>(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Reads the file <paramref name="path"/> as <see cref="Parse"/> does, naming it in errors; a file holding null is refused as empty.</summary>
    public static T Read<T>(string path) where T : class =>
        Parse<T>(File.ReadAllText(path), path) ?? throw new InvalidDataException($"{path}: empty");

    /// <summary>
    /// The members <paramref name="defaults"/> serialises to that the JSON object <paramref name="json"/> leaves out, but
    /// <paramref name="optional"/>, in declaration order: for files that must name every field, where filling a gap with
    /// a default would change what they describe. <paramref name="json"/> is read with <see cref="Options"/>' leniency
    /// (trailing commas, comments) and must be an object.
    /// </summary>
    public static List<string> MissingMembers<T>(string json, T defaults, IEnumerable<string> optional)
    {
        var given = System.Text.Json.Nodes.JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        return System.Text.Json.Nodes.JsonNode.Parse(Serialize(defaults, Options))!.AsObject().Select(p => p.Key).Except(optional).Where(k => !given.ContainsKey(k)).ToList();
    }
}
