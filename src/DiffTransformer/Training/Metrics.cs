using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DiffTransformer.Training;

/// <summary>One line of metrics.jsonl: a training step or an evaluation.</summary>
public sealed record MetricRecord
{
    /// <summary>"train" or "eval".</summary>
    public required string Kind { get; init; }
    public required long Step { get; init; }
    public double? Loss { get; init; }
    public double? Lr { get; init; }
    public double? GradNorm { get; init; }
    public long? Tokens { get; init; }
    public double? TokensPerSecond { get; init; }
    public double? ElapsedSeconds { get; init; }
    public double? ValLoss { get; init; }
    /// <summary>DIFF: λ of each layer.</summary>
    public double[]? Lambda { get; init; }
    /// <summary>Task metrics (e.g. recall accuracy) by name.</summary>
    public Dictionary<string, double>? Task { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>Appends metrics as JSON lines; on resume, drops lines past the checkpoint so the curve stays continuous.</summary>
public sealed class MetricsLog
{
    public string Path { get; }

    public MetricsLog(string path) => Path = path;

    public void Append(MetricRecord r) =>
        File.AppendAllText(Path, JsonSerializer.Serialize(r, MetricRecord.JsonOptions) + "\n");

    /// <summary>Keeps only records with step ≤ <paramref name="step"/> (an interrupted run may have logged beyond its last checkpoint).</summary>
    public void TruncateAfter(long step)
    {
        if (!File.Exists(Path)) return;
        var kept = Read(Path).Where(r => r.Step <= step).Select(r => JsonSerializer.Serialize(r, MetricRecord.JsonOptions));
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
            try
            {
                list.Add(JsonSerializer.Deserialize<MetricRecord>(line, MetricRecord.JsonOptions)!);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{n}: {e.Message}");
            }
        }
        return list;
    }
}

/// <summary>Loss curves as a PNG (ScottPlot): raw training loss faint, smoothed bold, validation as markers.</summary>
public static class LossPlot
{
    public sealed record Series(string Label, IReadOnlyList<MetricRecord> Records);

    public static void Write(string path, string title, IReadOnlyList<Series> series)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var s in series)
        {
            var color = palette.GetColor(i++);
            var train = s.Records.Where(r => r.Kind == "train" && r.Loss is double).ToList();
            if (train.Count > 0)
            {
                double[] xs = train.Select(r => (double)r.Step).ToArray();
                double[] ys = train.Select(r => r.Loss!.Value).ToArray();
                var raw = plt.Add.ScatterLine(xs, ys);
                raw.Color = color.WithAlpha(0.25);
                raw.LineWidth = 1;
                var smooth = plt.Add.ScatterLine(xs, Ema(ys, Math.Max(1, ys.Length / 50)));
                smooth.Color = color;
                smooth.LineWidth = 2;
                smooth.LegendText = $"{s.Label} train";
            }
            var val = s.Records.Where(r => r.Kind == "eval" && r.ValLoss is double).ToList();
            if (val.Count > 0)
            {
                var v = plt.Add.Scatter(val.Select(r => (double)r.Step).ToArray(), val.Select(r => r.ValLoss!.Value).ToArray());
                v.Color = color;
                v.LineStyle.Pattern = ScottPlot.LinePattern.Dashed;
                v.MarkerSize = 6;
                v.LegendText = $"{s.Label} validation";
            }
        }
        plt.XLabel("step");
        plt.YLabel("cross-entropy (nats/token)");
        // the first steps' loss can be far above the rest (e.g. 120 nats with a unit-scale tied embedding): the y range
        // follows the losses after the first 10% of the steps, so that the curves being compared stay readable
        var losses = series.SelectMany(s => s.Records).Where(r => r.Kind is "train" or "eval").ToList();
        if (losses.Count > 0)
        {
            double lastStep = losses.Max(r => r.Step);
            var all = losses.Select(r => r.Loss ?? r.ValLoss).OfType<double>().Where(double.IsFinite).ToList();
            var later = losses.Where(r => r.Step > 0.1 * lastStep).Select(r => r.Loss ?? r.ValLoss).OfType<double>().Where(double.IsFinite).ToList();
            if (all.Count > 0 && later.Count > 0 && all.Max() > 1.3 * later.Max())
            {
                double low = all.Min(), high = 1.3 * later.Max();
                plt.Axes.SetLimitsY(Math.Max(0, low - 0.05 * (high - low)), high);
                title += $" (the first steps, up to {all.Max():F1}, are above the chart)";
            }
        }
        plt.Title(title);
        plt.ShowLegend(ScottPlot.Alignment.UpperRight);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        string tmp = path + ".tmp.png";
        plt.SavePng(tmp, 900, 520);
        File.Move(tmp, path, overwrite: true);
    }

    private static double[] Ema(double[] ys, int span)
    {
        double a = 2.0 / (span + 1), acc = ys[0];
        var r = new double[ys.Length];
        for (int i = 0; i < ys.Length; i++) r[i] = acc = a * ys[i] + (1 - a) * acc;
        return r;
    }
}
