using DiffTransformer.IO;

namespace DiffTransformer.Model;

/// <summary>
/// A model on disk: a directory holding <c>model.safetensors</c> (the state dict, keys as in
/// <see cref="ParameterLayout"/>), <c>config.json</c> (the <see cref="ModelConfig"/>) and, when the model
/// was trained on tokenized text, <c>tokenizer.json</c> naming its tokenizer. The safetensors metadata
/// repeats the configuration and the tokenizer name, so a lone weights file still says what it holds.
/// </summary>
public static class ModelStore
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string TokenizerFile = "tokenizer.json";
    public const string Format = "difft-model";

    /// <summary>Writes weights and config into <paramref name="dir"/> (created if needed); each file is written atomically.</summary>
    public static void Save(LanguageModel model, string dir, string? tokenizer = null, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        Directory.CreateDirectory(dir);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["config"] = model.Config.ToJson(),
        };
        if (tokenizer is not null) meta["tokenizer"] = tokenizer;
        if (extraMetadata is not null) foreach (var (k, v) in extraMetadata) meta[k] = v;
        ModuleWeights.Save(model, Path.Combine(dir, WeightsFile), meta);
        model.Config.Save(Path.Combine(dir, ConfigFile));
        string tokPath = Path.Combine(dir, TokenizerFile);
        if (tokenizer is not null)
            AtomicFile.WriteAllText(tokPath, System.Text.Json.JsonSerializer.Serialize(new { name = tokenizer }) + "\n");
        else if (File.Exists(tokPath))
            File.Delete(tokPath);
    }

    /// <summary>
    /// The model directory for <paramref name="path"/>: itself when it holds a model (or is a weights file), its
    /// <c>final/</c> when it is a run directory that completed; otherwise an error that says what is there.
    /// </summary>
    public static string ResolveModelPath(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"no model at {path}: no such file or directory");
        if (File.Exists(Path.Combine(path, WeightsFile))) return path;
        string final = Path.Combine(path, "final");
        if (File.Exists(Path.Combine(final, WeightsFile))) return final;
        string hint = File.Exists(Path.Combine(path, "run.json"))
            ? " (a run directory whose training has not completed: its model will be in final/; a checkpoint under checkpoints/ can be loaded too)"
            : "";
        throw new FileNotFoundException($"no model at {path}: it holds no {WeightsFile}{hint}", path);
    }

    /// <summary>
    /// The tokenizer of a saved model, from its tokenizer.json: the name of one of ours (<c>{"name": …}</c>), or
    /// <see cref="TokenizerFile"/> itself when the file is a Hugging Face tokenizer (an object with a "model", as an
    /// imported DiffLlama checkpoint's is; <see cref="TokenizerPath"/> is where it is); null when the model names none.
    /// </summary>
    public static string? LoadTokenizerName(string path)
    {
        string tokPath = TokenizerPath(path);
        if (!File.Exists(tokPath)) return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(tokPath));
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("name", out var n) && n.ValueKind == System.Text.Json.JsonValueKind.String) return n.GetString();
                if (doc.RootElement.TryGetProperty("model", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.Object) return TokenizerFile;
            }
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{tokPath}: not valid JSON ({e.Message})");
        }
        throw new InvalidDataException($"{tokPath}: has neither a string field 'name' (one of our tokenizers) nor a 'model' object (a Hugging Face tokenizer)");
    }

    /// <summary>Where a saved model's tokenizer.json is (whether or not it exists): beside its weights.</summary>
    public static string TokenizerPath(string path) => Path.Combine(Resolve(path).Dir, TokenizerFile);

    /// <summary>Reads the configuration of a saved model: <paramref name="path"/> is its directory or its weights file.</summary>
    public static ModelConfig LoadConfig(string path)
    {
        var (dir, _) = Resolve(path);
        return ModelConfig.Load(Path.Combine(dir, ConfigFile));
    }

    /// <summary>Builds the model from config.json and loads model.safetensors strictly.</summary>
    public static LanguageModel Load(string path)
    {
        var (dir, weights) = Resolve(path);
        var config = ModelConfig.Load(Path.Combine(dir, ConfigFile));
        var model = new LanguageModel(config);
        try
        {
            var metadata = ModuleWeights.Load(model, weights, strict: true);        // shapes and keys first: its messages name the key
            CheckAgainstWeights(config, Path.Combine(dir, ConfigFile), weights, metadata);   // then what shapes do not show (max_seq_len, rope_theta, …)
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The configuration the weights file records (its metadata's "config", written by <see cref="Save"/>) must equal
    /// config.json: a hand-edited or swapped config.json would otherwise build a different model around the weights
    /// (a changed max_seq_len or rope_theta loads without a shape error). Files without the record are not checked.
    /// <paramref name="metadata"/> is the weights file's, as the load returned it (so the file is not opened again).
    /// </summary>
    public static void CheckAgainstWeights(ModelConfig config, string configPath, string weightsPath, IReadOnlyDictionary<string, string> metadata)
    {
        if (metadata.GetValueOrDefault("config") is not { } recorded) return;
        var inWeights = ModelConfig.FromJson(recorded, weightsPath + " (metadata)");
        if (inWeights == config) return;
        var a = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson())!.AsObject();
        var b = System.Text.Json.Nodes.JsonNode.Parse(inWeights.ToJson())!.AsObject();
        var diffs = a.Where(p => (p.Value?.ToJsonString() ?? "null") != (b[p.Key]?.ToJsonString() ?? "null"))
                     .Select(p => $"{p.Key} {p.Value?.ToJsonString() ?? "null"} (weights: {b[p.Key]?.ToJsonString() ?? "null"})");
        throw new ConfigException($"{configPath} disagrees with the configuration recorded in {weightsPath}: {string.Join("; ", diffs)}");
    }

    private static (string Dir, string Weights) Resolve(string path)
    {
        if (Directory.Exists(path)) return (path, Path.Combine(path, WeightsFile));
        if (File.Exists(path)) return (Path.GetDirectoryName(Path.GetFullPath(path))!, path);
        throw new FileNotFoundException($"no saved model at {path} (expected a directory with {WeightsFile} and {ConfigFile})", path);
    }
}
