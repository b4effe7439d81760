using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

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

    /// <summary>A checkpoint being written is a hidden <c>.incomplete-step_…</c> sibling until it is complete.</summary>
    private const string IncompletePurpose = "incomplete";

    /// <summary>Test hook: called after each file of a checkpoint is written (a throw simulates a crash).</summary>
    internal static Action<string>? AfterFileWritten;

    public static string Save(RunDirectory run, LanguageModel model, AdamW optimizer, TrainerState state, int keep)
    {
        string final = run.CheckpointDir(state.Step);
        string tmp = AtomicDirectory.CreateTempSibling(final, IncompletePurpose);
        ModelStore.Save(model, tmp, state.Tokenizer);
        AfterFileWritten?.Invoke(ModelStore.WeightsFile);
        optimizer.Save(Path.Combine(tmp, OptimizerFile));
        AfterFileWritten?.Invoke(OptimizerFile);
        using (var rng = get_rng_state())
            SafeTensorsFile.Save(Path.Combine(tmp, RngFile), [new("torch_rng_state", rng)]);
        Json.Write(Path.Combine(tmp, StateFile), state);
        AfterFileWritten?.Invoke(StateFile);

        AtomicDirectory.MoveIntoPlace(tmp, final); // replaces a checkpoint of the same step (e.g. interrupted right after one)
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
        foreach (var d in AtomicDirectory.Leftovers(run.CheckpointsDir, IncompletePurpose)) Directory.Delete(d, recursive: true);
    }

    public static TrainerState LoadState(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint {dir} has no {StateFile}", path);
        return Json.Read<TrainerState>(path);
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

}
