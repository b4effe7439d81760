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

    /// <summary>SHA-256 of every other file of the checkpoint, written last: a checkpoint is trusted only when they match.</summary>
    public const string ChecksumFile = "checksums.json";

    /// <summary>A checkpoint being written is a hidden <c>.incomplete-step_…</c> sibling until it is complete.</summary>
    private const string IncompletePurpose = "incomplete";

    /// <summary>Test hook: called after each file of a checkpoint is written (a throw simulates a crash).</summary>
    internal static Action<string>? AfterFileWritten;

    /// <summary>
    /// Writes the checkpoint of <paramref name="state"/>'s step, points checkpoints/latest at it and prunes: the newest
    /// <paramref name="keep"/> intact checkpoints stay (this one among them) and everything older goes. Those in
    /// <paramref name="damaged"/> (passed over at resume) do not count, or a damaged checkpoint newer than the resume point
    /// could have the pruning delete the intact ones a later resume needs; they go once older than the kept ones. A
    /// damaged checkpoint this one replaces (the same step) leaves <paramref name="damaged"/>.
    /// </summary>
    public static string Save(RunDirectory run, LanguageModel model, AdamW optimizer, TrainerState state, int keep, ISet<string>? damaged = null)
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
        Json.Write(Path.Combine(tmp, ChecksumFile), Checksums(tmp));

        AtomicDirectory.MoveIntoPlace(tmp, final); // replaces a checkpoint of the same step (e.g. interrupted right after one)
        AtomicFile.WriteAllText(run.LatestPointer, Path.GetFileName(final) + "\n");
        AfterFileWritten?.Invoke("latest");

        damaged?.Remove(final);
        int intact = 0;
        foreach (var dir in run.Checkpoints().Reverse())                         // newest first
        {
            bool isFinal = string.Equals(dir, final, StringComparison.Ordinal);
            if (intact >= keep && !isFinal) Directory.Delete(dir, recursive: true);   // older than the kept ones
            else if (isFinal || damaged is null || !damaged.Contains(dir)) intact++;
        }
        return final;
    }

    /// <summary>The SHA-256 (hex) of every file in <paramref name="dir"/> but the checksum file, by name, in name order.</summary>
    public static SortedDictionary<string, string> Checksums(string dir)
    {
        var sums = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Directory.GetFiles(dir).Where(f => Path.GetFileName(f) != ChecksumFile))
        {
            using var stream = File.OpenRead(f);
            sums[Path.GetFileName(f)] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
        }
        return sums;
    }

    /// <summary>
    /// Why the checkpoint in <paramref name="dir"/> cannot be trusted (a file missing, added or changed since it was
    /// written, or no checksums), or null when every file matches its recorded SHA-256.
    /// </summary>
    public static string? Damage(string dir)
    {
        string path = Path.Combine(dir, ChecksumFile);
        if (!File.Exists(path)) return $"it has no {ChecksumFile}";
        SortedDictionary<string, string>? recorded;
        try
        {
            recorded = Json.Read<SortedDictionary<string, string>>(path);
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
        if (recorded is null) return $"{ChecksumFile} is empty";
        var actual = Checksums(dir);
        foreach (var (name, sum) in recorded)
        {
            if (!actual.TryGetValue(name, out var now)) return $"{name} is missing";
            if (now != sum) return $"{name} does not match its checksum (damaged or truncated)";
        }
        var extra = actual.Keys.Except(recorded.Keys).ToList();
        return extra.Count > 0 ? $"{extra[0]} was not part of it" : null;
    }

    /// <summary>
    /// The checkpoint to resume from: the one checkpoints/latest names if it is intact, else the newest intact one;
    /// each damaged one passed over is reported through <paramref name="warn"/> with the reason. Null when there is none
    /// (the message of <paramref name="none"/> then says what was found). The damaged ones passed over are added to
    /// <paramref name="damaged"/> when given (for <see cref="Save"/>'s pruning).
    /// </summary>
    public static string? NewestIntact(RunDirectory run, Action<string> warn, out string none, ISet<string>? damaged = null)
    {
        none = "";
        var candidates = run.Checkpoints().Reverse().ToList();
        string? named = null;
        if (File.Exists(run.LatestPointer))
        {
            named = Path.Combine(run.CheckpointsDir, File.ReadAllText(run.LatestPointer).Trim());
            if (candidates.Remove(named)) candidates.Insert(0, named);
            else warn($"{run.LatestPointer} names {Path.GetFileName(named)}, which does not exist");
        }
        var reasons = new List<string>();
        foreach (var dir in candidates)
        {
            if (!File.Exists(Path.Combine(dir, ChecksumFile)))
            {
                warn($"checkpoint {dir} has no {ChecksumFile} (written before checkpoints had checksums): resuming from it unverified");
                return dir;
            }
            string? why = Damage(dir);
            if (why is null) return dir;
            reasons.Add($"{Path.GetFileName(dir)} ({why})");
            damaged?.Add(dir);
            warn($"checkpoint {dir} is not intact: {why}; trying an earlier one");
        }
        none = candidates.Count == 0 ? $"{run.Root} has no checkpoint to resume from"
                                     : $"{run.Root} has no intact checkpoint to resume from: {string.Join(", ", reasons)}";
        return null;
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
