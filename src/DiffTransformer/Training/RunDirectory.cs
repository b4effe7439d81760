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
