using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DiffTransformer.Data;

namespace DiffTransformer.Tasks.Icl;

/// <summary>Reading labelled JSONL examples and splitting them by example (<see cref="IclExampleSet"/>).</summary>
public static partial class IclExamples
{
    /// <summary>File names a folder of labelled examples is searched for.</summary>
    public static IReadOnlyList<string> Globs { get; } = ["*.jsonl", "*.jsonl.gz"];

    /// <summary>
    /// Every example of <paramref name="inputs"/> (JSONL files or folders of them), in order: the text field made one
    /// line (<see cref="KeepText"/>; an example whose text is then empty is skipped) and the label field's value as its
    /// class, split by <see cref="IsTest"/>. Refused, naming the file, line, field or value: a file that is not JSONL,
    /// a line without either field or with a text that is not a string or a label that is not a string, number or
    /// boolean (not valid JSON, not an object); fewer than 2 classes; a class with no example in one of the splits.
    /// </summary>
    public static IclExampleSet Read(IReadOnlyList<string> inputs, IclTaskOptions options)
    {
        options.Validate();
        if (inputs.Count == 0) throw new ArgumentException("no labelled examples given (JSONL files with a text and a label field)");
        var files = TextInputs.Resolve(inputs, Globs);
        var rows = new List<(string Text, string Label)>();
        foreach (var file in files)
        {
            if (!file.IsJsonl) throw new InvalidDataException($"{file.Path}: not a JSONL file (.jsonl or .jsonl.gz); labelled examples are JSON lines with a text and a label field");
            using var reader = TextInputs.OpenReader(file, out var raw);
            using (raw)
            {
                long line = 0;
                while (TextInputs.ReadLine(reader, file.Path, line + 1) is { } json)
                {
                    line++;
                    if (string.IsNullOrWhiteSpace(json)) continue;
                    using var doc = Parse(json, file.Path, line);
                    string text = Field(doc.RootElement, options.TextField, "text", file.Path, line, label: false);
                    string label = Field(doc.RootElement, options.LabelField, "label", file.Path, line, label: true);
                    string kept = KeepText(text, options.MaxTextBytes);
                    if (kept.Length > 0) rows.Add((kept, label));
                }
            }
        }
        string source = string.Join(", ", inputs);
        var classes = rows.Select(r => r.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2)
            throw new InvalidDataException($"{source}: the label field '{options.LabelField}' has {(classes.Count == 0 ? "no values" : $"the single value \"{classes[0]}\"")} " +
                                           $"in {rows.Count:N0} examples; in-context classification needs at least 2 classes (choose the field with --label-field)");
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var examples = rows.Select(r => new IclExample(r.Text, index[r.Label], IsTest(r.Text, options.TestFraction))).ToList();
        var set = new IclExampleSet(source, classes, examples);
        for (int c = 0; c < classes.Count; c++)
            if (set.Train[c].Length == 0 || set.Test[c].Length == 0)
                throw new InvalidDataException($"{source}: class \"{classes[c]}\" of '{options.LabelField}' has {set.Train[c].Length + set.Test[c].Length} examples, " +
                                               $"{set.Train[c].Length} for training and {set.Test[c].Length} held out; every class needs at least one of each");
        if (options.Ways is int ways && ways > classes.Count)
            throw new ArgumentException($"ways {ways} is more than the {classes.Count} classes of '{options.LabelField}' in {source}");
        if ((options.Ways ?? classes.Count) > options.LabelPool.Count)
            throw new ArgumentException($"episodes of {classes.Count} classes need as many label names, but the label pool has {options.LabelPool.Count} (choose fewer classes an episode with --ways)");
        return set;
    }

    private static JsonDocument Parse(string json, string file, long line)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{file}:{line}: not valid JSON: {e.Message}"); }
        var kind = doc.RootElement.ValueKind;
        if (kind == JsonValueKind.Object) return doc;
        doc.Dispose();
        throw new InvalidDataException($"{file}:{line}: expected a JSON object, got {kind.ToString().ToLowerInvariant()}");
    }

    /// <summary>
    /// One field of a JSONL object: a text must be a string; a label may also be a number or boolean, taken as written.
    /// Errors name the file, line and field, and the option that chooses it.
    /// </summary>
    private static string Field(JsonElement root, string field, string what, string file, long line, bool label)
    {
        if (!root.TryGetProperty(field, out var value))
            throw new InvalidDataException($"{file}:{line}: no field '{field}' (choose the {what} field with --{what}-field)");
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False when label => value.GetRawText(),
            _ => throw new InvalidDataException($"{file}:{line}: {what} field '{field}' is {value.ValueKind.ToString().ToLowerInvariant()}, " +
                                                (label ? "not a string, number or boolean" : "not a string")),
        };
    }

    /// <summary>
    /// The text an episode shows: whitespace runs folded to one space (a line break only ever ends a demonstration),
    /// '→' written '->' (it only ever separates a text from its label), trimmed, and cut to its longest prefix of whole
    /// characters (code points) of at most <paramref name="maxBytes"/> UTF-8 bytes.
    /// </summary>
    public static string KeepText(string text, int maxBytes)
    {
        string t = Whitespace().Replace(text, " ").Replace(IclFormat.Arrow, "->", StringComparison.Ordinal).Trim();
        int bytes = 0, cut = 0;
        foreach (var rune in t.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes) return t[..cut].TrimEnd();
            bytes += rune.Utf8SequenceLength;
            cut += rune.Utf16SequenceLength;
        }
        return t;
    }

    /// <summary>
    /// Whether an example is held out: a hash of its kept text (UTF-8, FNV-1a, mixed by <see cref="CounterHash"/>) below
    /// <paramref name="testFraction"/>. A function of the text alone, so identical texts always share a split and any
    /// reading of the corpus (training, <c>eval icl</c>) holds out the same examples.
    /// </summary>
    public static bool IsTest(string keptText, double testFraction)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(keptText)) h = (h ^ b) * 1099511628211UL;
        return CounterHash.Uniform(SplitSalt, h) < testFraction;
    }

    private const ulong SplitSalt = 0x69636C2D73706C74UL;   // "icl-splt"

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
