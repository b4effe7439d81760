using System.Globalization;

namespace DiffTransformer.Evaluation;

/// <summary>The depth × prompt-length accuracy of one model as a heatmap PNG (ScottPlot), each cell labelled with its value.</summary>
public static class NeedlePlot
{
    public static void Write(string path, NeedleModelScore score, IReadOnlyList<int> lengths, IReadOnlyList<double> depths)
    {
        var values = new double[depths.Count, lengths.Count];                  // row = depth (0% at the top), column = length
        for (int r = 0; r < depths.Count; r++)
            for (int c = 0; c < lengths.Count; c++)
                values[r, c] = score.AccuracyAt(lengths[c], depths[r]);
        var plt = new ScottPlot.Plot();
        var map = plt.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(0, 1);
        map.Position = new ScottPlot.CoordinateRect(0, lengths.Count, depths.Count, 0);
        plt.Add.ColorBar(map);
        for (int r = 0; r < depths.Count; r++)
            for (int c = 0; c < lengths.Count; c++)
            {
                var t = plt.Add.Text(double.IsFinite(values[r, c]) ? values[r, c].ToString("F2", CultureInfo.InvariantCulture) : "n/a", c + 0.5, r + 0.5);
                t.LabelFontColor = values[r, c] > 0.6 ? ScottPlot.Colors.Black : ScottPlot.Colors.White;
                t.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
            }
        plt.Axes.Bottom.SetTicks(lengths.Select((_, i) => i + 0.5).ToArray(), lengths.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.Left.SetTicks(depths.Select((_, i) => i + 0.5).ToArray(), depths.Select(d => d.ToString("P0", CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.SetLimits(0, lengths.Count, depths.Count, 0);
        plt.XLabel("prompt length (tokens)");
        plt.YLabel("answer depth");
        plt.Title($"needle retrieval accuracy: {score.Model.Label}");
        plt.SavePng(path, 720, 480);
    }
}
