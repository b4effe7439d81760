using DiffTransformer.IO;

namespace DiffTransformer.Training;

/// <summary>Appends metrics as JSON lines; on resume, drops lines past the checkpoint so the curve stays continuous.</summary>
public sealed class MetricsLog
{
    public string Path { get; }

    public MetricsLog(string path) => Path = path;

    public void Append(MetricRecord r) =>
        File.AppendAllText(Path, Json.Serialize(r, Json.Lines) + "\n");

    /// <summary>Keeps only records with step ≤ <paramref name="step"/> (an interrupted run may have logged beyond its last checkpoint).</summary>
    public void TruncateAfter(long step)
    {
        if (!File.Exists(Path)) return;
        var kept = Read(Path).Where(r => r.Step <= step).Select(r => Json.Serialize(r, Json.Lines));
        AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + "\n")));
    }

    public static List<MetricRecord> Read(string path)
    {
        var list = new List<MetricRecord>();
        if (!File.Exists(path)) return list;
        int n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            list.Add(Json.Parse<MetricRecord>(line, $"{path}:{n}") ?? throw new InvalidDataException($"{path}:{n}: null"));
        }
        return list;
    }
}
