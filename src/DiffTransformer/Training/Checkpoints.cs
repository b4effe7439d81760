using System.Globalization;
using System.Text.Json;
using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

/// <summary>Where a run keeps its files.</summary>
public sealed class RunDirectory(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string OptionsFile => Path.Combine(Root, "run.json");
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Plot => Path.Combine(Root, "loss.png");
    public string CheckpointsDir => Path.Combine(Root, "checkpoints");
    public string LatestPointer => Path.Combine(CheckpointsDir, "latest");
    public string Final => Path.Combine(Root, "final");
    public string Data => Path.Combine(Root, "data");
    public string Summary => Path.Combine(Root, "summary.json");

    public string CheckpointDir(long step) => Path.Combine(CheckpointsDir, $"step_{step:D7}");

    /// <summary>Directory of the newest complete checkpoint, or null.</summary>
    public string? Latest()
    {
        if (!File.Exists(LatestPointer)) return null;
        string name = File.ReadAllText(LatestPointer).Trim();
        string dir = Path.Combine(CheckpointsDir, name);
        if (!Directory.Exists(dir))
            throw new InvalidDataException($"{LatestPointer} names checkpoint '{name}', which does not exist in {CheckpointsDir}");
        return dir;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<string> Checkpoints() => Directory.Exists(CheckpointsDir)
        ? Directory.GetDirectories(CheckpointsDir, "step_*").Order(StringComparer.Ordinal).ToList()
        : [];

    public bool HasRun => File.Exists(OptionsFile) || Checkpoints().Count > 0;
}

/// <summary>Progress of a run at a checkpoint: with the model and optimizer state it is all a resume needs.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; init; }
    /// <summary>Training tokens consumed.</summary>
    public long Tokens { get; init; }
    /// <summary>Index of the next training row (the data position; a row's window is a pure function of it and the seed).</summary>
    public long NextRow { get; init; }
    /// <summary>Training wall time so far, seconds.</summary>
    public double ElapsedSeconds { get; init; }
    public string Tokenizer { get; init; } = "";
    public double? LastValLoss { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };
}

/// <summary>
/// Checkpoint = model (safetensors + config.json + tokenizer.json), optimizer.safetensors (AdamW moments, step,
/// and torch's RNG state) and state.json. Written into a hidden directory that is renamed into place, and only
/// then does <c>checkpoints/latest</c> point at it: a crash at any moment leaves the previous checkpoint usable.
/// </summary>
public static class Checkpoint
{
    public const string StateFile = "state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string RngFile = "rng.safetensors";

    /// <summary>Test hook: called after each file of a checkpoint is written (a throw simulates a crash).</summary>
    internal static Action<string>? AfterFileWritten;

    public static string Save(RunDirectory run, LanguageModel model, AdamW optimizer, TrainerState state, int keep)
    {
        Directory.CreateDirectory(run.CheckpointsDir);
        string final = run.CheckpointDir(state.Step);
        string tmp = Path.Combine(run.CheckpointsDir, $".incomplete-{Path.GetFileName(final)}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        ModelStore.Save(model, tmp, state.Tokenizer);
        AfterFileWritten?.Invoke(ModelStore.WeightsFile);
        optimizer.Save(Path.Combine(tmp, OptimizerFile));
        AfterFileWritten?.Invoke(OptimizerFile);
        using (var rng = get_rng_state())
            SafeTensorsFile.Save(Path.Combine(tmp, RngFile), [new("torch_rng_state", rng)]);
        AtomicFile.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, TrainerState.JsonOptions) + "\n");
        AfterFileWritten?.Invoke(StateFile);

        if (Directory.Exists(final)) Directory.Delete(final, recursive: true); // re-saving the same step (e.g. interrupted right after one)
        Directory.Move(tmp, final);
        AtomicFile.WriteAllText(run.LatestPointer, Path.GetFileName(final) + "\n");
        AfterFileWritten?.Invoke("latest");

        var all = run.Checkpoints();
        foreach (var old in all.Take(Math.Max(0, all.Count - keep)))
            if (!string.Equals(old, final, StringComparison.Ordinal)) Directory.Delete(old, recursive: true);
        return final;
    }

    /// <summary>Removes leftovers of checkpoints whose writing was interrupted.</summary>
    public static void CleanIncomplete(RunDirectory run)
    {
        if (!Directory.Exists(run.CheckpointsDir)) return;
        foreach (var d in Directory.GetDirectories(run.CheckpointsDir, ".incomplete-*")) Directory.Delete(d, recursive: true);
    }

    public static TrainerState LoadState(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint {dir} has no {StateFile}", path);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), TrainerState.JsonOptions)
                   ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}");
        }
    }

    /// <summary>Loads weights, optimizer moments and the RNG state of a checkpoint into an existing model and optimizer.</summary>
    public static TrainerState Restore(string dir, LanguageModel model, AdamW optimizer)
    {
        var state = LoadState(dir);
        var config = ModelStore.LoadConfig(dir);
        if (config != model.Config)
            throw new InvalidDataException($"checkpoint {dir} holds a model with a different configuration:\n{config.ToJson()}");
        ModuleWeights.Load(model, Path.Combine(dir, ModelStore.WeightsFile));
        optimizer.Load(Path.Combine(dir, OptimizerFile));
        if (optimizer.Step != state.Step)
            throw new InvalidDataException($"checkpoint {dir}: optimizer step {optimizer.Step} differs from state step {state.Step}");
        using var file = SafeTensorsFile.Open(Path.Combine(dir, RngFile));
        using var rng = file.Read("torch_rng_state");
        set_rng_state(rng);
        return state;
    }

    public static string StepText(long step) => step.ToString(CultureInfo.InvariantCulture);
}
