using System.IO.Compression;
using System.IO.Enumeration;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>
/// Reading text corpora the way <c>prepare</c> does: files, folders searched recursively for name patterns, JSONL with
/// a text field; gzip decompressed; errors name the file (and line). Shared by <see cref="DatasetPreparer"/> and the
/// evaluation suites.
/// </summary>
public static class TextInputs
{
    /// <summary>Name patterns a folder is searched for when none are given.</summary>
    public static IReadOnlyList<string> DefaultGlobs { get; } = ["*.txt", "*.md"];

    /// <summary>The input files in reading order; folders are listed recursively and sorted ordinally.</summary>
    public static List<TextInputFile> Resolve(IReadOnlyList<string> inputs, IReadOnlyList<string> globs)
    {
        var files = new List<TextInputFile>();
        foreach (string input in inputs)
        {
            if (File.Exists(input))
            {
                files.Add(TextInputFile.Describe(input));
            }
            else if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*", new EnumerationOptions { RecurseSubdirectories = true })
                    .Where(f => globs.Any(g => FileSystemName.MatchesSimpleExpression(g, Path.GetFileName(f), ignoreCase: true)))
                    .Order(StringComparer.Ordinal)
                    .Select(TextInputFile.Describe)
                    .ToList();
                if (found.Count == 0)
                    throw new InvalidDataException($"no documents found in {input}: no files matching {string.Join(", ", globs)}");
                files.AddRange(found);
            }
            else
            {
                throw new FileNotFoundException($"input not found: {input}", input);
            }
        }
        return files;
    }

    /// <summary>A UTF-8 reader over the file, decompressing .gz.</summary>
    public static StreamReader OpenReader(TextInputFile file, out FileStream raw)
    {
        raw = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Stream s = file.IsGzip ? new GZipStream(raw, CompressionMode.Decompress) : raw;
        return new StreamReader(s, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    /// <summary>The whole file; a corrupt gzip stream's error gets the file name.</summary>
    public static string ReadAll(StreamReader reader, string path)
    {
        try { return reader.ReadToEnd(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>The next line, or null at the end; a corrupt gzip stream's error gets the file and line.</summary>
    public static string? ReadLine(StreamReader reader, string path, long line)
    {
        try { return reader.ReadLine(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}:{line}: {e.Message}", e); }
    }

    /// <summary>
    /// Parses one JSONL line as an object and returns the string in <paramref name="field"/> (and the parsed document,
    /// which the caller disposes); errors name the file, line and field.
    /// </summary>
    public static string StringField(string json, string field, string file, long line, out JsonDocument document)
    {
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}:{line}: not valid JSON: {e.Message}");
        }
        string? error = null;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) error = $"expected a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}";
        else if (!root.TryGetProperty(field, out var value)) error = $"no field '{field}' (choose the text field with --field)";
        else if (value.ValueKind != JsonValueKind.String) error = $"field '{field}' is {value.ValueKind.ToString().ToLowerInvariant()}, not a string";
        else return value.GetString()!;
        document.Dispose();
        throw new InvalidDataException($"{file}:{line}: {error}");
    }

    /// <summary>
    /// Every document of <paramref name="files"/> in order: a text file is one document, a JSONL file one per non-blank
    /// line (its <paramref name="field"/>). Empty documents are skipped.
    /// </summary>
    public static IEnumerable<TextDocument> ReadDocuments(IEnumerable<TextInputFile> files, string field)
    {
        foreach (var file in files)
        {
            using var reader = OpenReader(file, out var raw);
            using (raw)
            {
                if (!file.IsJsonl)
                {
                    string text = ReadAll(reader, file.Path);
                    if (text.Length > 0) yield return new TextDocument(file.Path, text);
                    continue;
                }
                long line = 0;
                while (ReadLine(reader, file.Path, line + 1) is { } json)
                {
                    line++;
                    if (string.IsNullOrWhiteSpace(json)) continue;
                    string text = StringField(json, field, file.Path, line, out var doc);
                    doc.Dispose();
                    if (text.Length > 0) yield return new TextDocument($"{file.Path}:{line}", text);
                }
            }
        }
    }
}
