using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// The layer benchmark as two PNGs (ScottPlot), both log–log against T: forward+backward tokens/s, and the peak memory
/// of one forward+backward, one line per architecture × core (DIFF solid, baseline dashed).
/// </summary>
public static class AttentionPlot
{
    /// <summary>Writes <c>{prefix}-throughput.png</c> and <c>{prefix}-memory.png</c>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string prefix, AttentionBenchmarkResult r)
    {
        var o = r.Options;
        string shape = $"E {o.EmbedDim}, H {o.Heads} (d {o.EmbedDim / o.Heads / 2}), {(o.TokensPerCall is int n ? $"B·T = {n}" : $"B {o.Batch}")}, {r.Threads} threads";
        string throughput = prefix + "-throughput.png", memory = prefix + "-memory.png";
        Draw(throughput, r, m => m.TokensPerSecond, $"one attention layer, forward+backward tokens/s ({shape})", "tokens/s");
        Draw(memory, r, m => m.PeakBytes is long b ? b / 1048576.0 : double.NaN, $"peak memory of one forward+backward ({shape})", "peak RSS growth (MB)");
        return [throughput, memory];
    }

    private static void Draw(string path, AttentionBenchmarkResult r, Func<AttentionMeasurement, double> value, string title, string yLabel)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var kernels = r.Options.Kernels;
        var ys = new List<double>();
        foreach (var arch in r.Options.Archs)
            foreach (var kernel in kernels)
            {
                var points = r.Measurements.Where(m => m.Arch == arch && m.Kernel == kernel && m.Backward && m.Seconds.Count > 0)
                    .OrderBy(m => m.SeqLen).Select(m => (X: Math.Log10(m.SeqLen), Y: value(m))).Where(p => p.Y > 0 && double.IsFinite(p.Y)).ToList();
                if (points.Count == 0) continue;
                var line = plt.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => Math.Log10(p.Y)).ToArray());
                line.Color = palette.GetColor(kernels.ToList().IndexOf(kernel));
                line.LineWidth = 2;
                line.MarkerSize = 7;
                if (arch == Architecture.Transformer) line.LineStyle.Pattern = ScottPlot.LinePattern.Dashed;
                line.LegendText = arch == Architecture.Diff ? $"DIFF {KernelNames.Of(kernel)}" : $"baseline {KernelNames.Of(kernel)} (dashed)";
                ys.AddRange(points.Select(p => p.Y));
            }
        var lens = r.Options.SeqLens.Order().ToArray();
        plt.Axes.Bottom.SetTicks(lens.Select(t => Math.Log10(t)).ToArray(), lens.Select(t => t.ToString(CultureInfo.InvariantCulture)).ToArray());
        if (ys.Count > 0)
        {
            int lo = (int)Math.Floor(Math.Log10(ys.Min())), hi = (int)Math.Ceiling(Math.Log10(ys.Max()));
            var ticks = new List<double>();
            for (int p = lo; p <= hi; p++) foreach (int m in new[] { 1, 2, 5 }) ticks.Add(m * Math.Pow(10, p));
            plt.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(v => v.ToString("G", CultureInfo.InvariantCulture)).ToArray());
        }
        plt.Title(title, size: 13);
        plt.XLabel("sequence length T");
        plt.YLabel(yLabel);
        plt.ShowLegend(ScottPlot.Edge.Right);                                  // outside: the lines end at the right
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = path + ".tmp.png";
        plt.SavePng(tmp, 1000, 520);
        File.Move(tmp, path, overwrite: true);
    }
}
