using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using DiffTransformer.Data;
using DiffTransformer.Evaluation;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Training;

namespace DiffTransformer.Study;

/// <summary>
/// A declared study (docs/STUDY.md): named prepared datasets, and experiments — a model, a training budget on a dataset
/// or built-in task, the evaluation suites to run — each trained as DIFF and as the parameter-matched Transformer for
/// every seed. Paths in the plan are relative to the plan file's folder; <c>"$data"</c> in a suite's inputs is the
/// dataset the experiment trained on.
/// </summary>
public sealed record StudyPlan
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";

    /// <summary>Seeds of every experiment that does not give its own (each seed: both architectures).</summary>
    public required IReadOnlyList<long> Seeds { get; init; }

    /// <summary>Prepared datasets by name: <see cref="PrepareOptions"/> fields (snake_case) except output_directory.</summary>
    public IReadOnlyDictionary<string, JsonObject> Data { get; init; } = new Dictionary<string, JsonObject>();

    public required IReadOnlyList<StudyExperiment> Experiments { get; init; }

    /// <summary>The plan file (absolute); set by <see cref="Load"/>.</summary>
    [JsonIgnore] public string File { get; init; } = "";

    /// <summary>The folder paths in the plan are relative to.</summary>
    [JsonIgnore] public string Folder => Path.GetDirectoryName(File) ?? Environment.CurrentDirectory;

    // a null where the plan's types allow none ("evals": null) is refused by name rather than failing later
    private static readonly JsonSerializerOptions ReadOptions = new(Json.Options) { RespectNullableAnnotations = true };

    private static readonly Regex NamePattern = new("^[a-z0-9][a-z0-9._-]*$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Reads and checks <paramref name="path"/>: every experiment's model, training options and suite options are resolved
    /// here, so a typo in the last experiment is refused before the first one trains. Messages name the file, the
    /// experiment and the field.
    /// </summary>
    public static StudyPlan Load(string path)
    {
        string file = Path.GetFullPath(path);
        if (!System.IO.File.Exists(file)) throw new FileNotFoundException($"study plan {path}: no such file", path);
        StudyPlan plan;
        try
        {
            plan = JsonSerializer.Deserialize<StudyPlan>(System.IO.File.ReadAllText(file), ReadOptions) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"study plan {path}: {e.Message}", e);
        }
        plan = plan with { File = file };
        plan.Check(path);
        return plan;
    }

    /// <summary>Every (experiment, seed) of the plan, experiment by experiment, seeds in their order.</summary>
    public IReadOnlyList<StudyUnit> Units() => Experiments.SelectMany(e => (e.Seeds ?? Seeds).Select(s => StudyUnit.Resolve(this, e, s))).ToList();

    private void Check(string path)
    {
        string Where(string rest) => $"study plan {path}: {rest}";
        if (!NamePattern.IsMatch(Name)) throw new ArgumentException(Where($"name '{Name}' must be lower-case letters, digits, '.', '_' or '-'"));
        if (Seeds.Count == 0) throw new ArgumentException(Where("seeds is empty"));
        if (Experiments.Count == 0) throw new ArgumentException(Where("experiments is empty"));
        foreach (var (name, spec) in Data)
        {
            if (!NamePattern.IsMatch(name)) throw new ArgumentException(Where($"data '{name}': a name is lower-case letters, digits, '.', '_' or '-'"));
            if (spec.ContainsKey("output_directory")) throw new ArgumentException(Where($"data '{name}': output_directory is the study's (out/data/{name})"));
            try
            {
                var prepare = PrepareFor(name, "check");
                foreach (var input in prepare.Inputs)
                    if (!System.IO.File.Exists(input) && !Directory.Exists(input)) throw new ArgumentException($"data '{name}': input {input}: no such file or directory");
            }
            catch (ArgumentException x)
            {
                throw new ArgumentException(Where(x.Message), x);
            }
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in Experiments)
        {
            string at = $"experiment '{e.Name}'";
            if (!NamePattern.IsMatch(e.Name)) throw new ArgumentException(Where($"{at}: a name is lower-case letters, digits, '.', '_' or '-'"));
            if (!seen.Add(e.Name)) throw new ArgumentException(Where($"{at} is declared twice"));
            if (e.Name == "data") throw new ArgumentException(Where($"{at}: 'data' is the folder of the plan's datasets; name the experiment otherwise"));
            if (e.Seeds is { Count: 0 }) throw new ArgumentException(Where($"{at}: seeds is empty"));
            if ((e.Seeds ?? Seeds).Distinct().Count() != (e.Seeds ?? Seeds).Count) throw new ArgumentException(Where($"{at}: a seed is repeated"));
            if (e.Data is { } d && !Data.ContainsKey(d))
                throw new ArgumentException(Where($"{at}: data '{d}' is not among the plan's data ({string.Join(", ", Data.Keys)})"));
            try
            {
                foreach (var unit in (e.Seeds ?? Seeds).Select(s => StudyUnit.Resolve(this, e, s)))
                {
                    unit.Train("check-data").Validate();
                    foreach (var (suite, overlay) in e.Evals) EvalSuites.Get(suite).Options("check-data", ResolvePaths(overlay, "check-data"));
                }
            }
            catch (Exception x) when (x is ArgumentException or ConfigException or JsonException or FileNotFoundException or KeyNotFoundException)
            {
                throw new ArgumentException(Where($"{at}: {x.Message}"), x);
            }
        }
    }

    /// <summary>The prepare options of the plan's dataset <paramref name="name"/>, written into <paramref name="outputDirectory"/>.</summary>
    public PrepareOptions PrepareFor(string name, string outputDirectory)
    {
        var spec = (JsonObject)ResolvePaths(Data[name], null)!;
        spec["output_directory"] = outputDirectory;
        try
        {
            return spec.Deserialize<PrepareOptions>(Json.Options) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"data '{name}': {e.Message}", e);
        }
    }

    private static readonly HashSet<string> PathFields = new(StringComparer.Ordinal) { "inputs", "haystack", "examples", "data" };

    /// <summary>
    /// A copy of <paramref name="overlay"/> whose path fields (inputs, haystack, examples, data: strings or lists of them)
    /// are absolute: relative to the plan's folder, <c>"$data"</c> replaced by <paramref name="data"/>.
    /// </summary>
    public JsonObject? ResolvePaths(JsonObject? overlay, string? data) => overlay is null ? null : (JsonObject)ResolveIn(overlay, data);

    // path fields at any depth: quant's text.inputs and needle.haystack are as much paths as lm's inputs
    private JsonNode ResolveIn(JsonObject node, string? data)
    {
        var copy = new JsonObject();
        foreach (var (key, value) in node)
        {
            copy[key] = value switch
            {
                JsonObject o => ResolveIn(o, data),
                JsonValue v when PathFields.Contains(key) && v.TryGetValue(out string? s) => Resolve(s, data),
                JsonArray a when PathFields.Contains(key) =>
                    new JsonArray(a.Select(n => n is JsonValue x && x.TryGetValue(out string? s) ? Resolve(s, data) : n?.DeepClone()).ToArray()),
                _ => value?.DeepClone(),
            };
        }
        return copy;
    }

    private JsonNode Resolve(string path, string? data)
    {
        if (path == "$data") return data ?? throw new ArgumentException("\"$data\" stands only in a suite's options (the dataset the experiment trained on)");
        return Path.GetFullPath(Path.Combine(Folder, path));
    }
}
