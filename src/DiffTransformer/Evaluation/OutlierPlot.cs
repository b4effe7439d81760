using System.Globalization;

namespace DiffTransformer.Evaluation;

/// <summary>
/// One model's magnitude histograms as a PNG (ScottPlot), both axes logarithmic: the share of values per bin of
/// |x| (<see cref="MagnitudeAccumulator.ReportBinsPerOctave"/> bins per octave) for the attention logits and the hidden
/// states, with each top-1 marked. Values below the histogram's range (zeros) are left out.
/// </summary>
public static class OutlierPlot
{
    public static void Write(string path, OutlierModelScore score)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var (name, stats, i) in new[] { ("attention logits", score.Logits, 0), ("hidden states", score.Hidden, 1) })
        {
            var bins = stats.Histogram.Where(b => b.Lower > 0 && double.IsFinite(b.Upper)).ToList();
            if (bins.Count == 0) continue;
            double[] x = bins.Select(b => Math.Log10(Math.Sqrt(b.Lower * b.Upper))).ToArray();
            double[] y = bins.Select(b => Math.Log10((double)b.Count / stats.Count)).ToArray();
            var line = plt.Add.Scatter(x, y);
            line.Color = palette.GetColor(i);
            line.LegendText = $"{name}: top-1 {OutlierEvalResult.G(stats.Top1)}, median {OutlierEvalResult.G(stats.Median)}";
            var top = plt.Add.VerticalLine(Math.Log10(stats.Top1));
            top.Color = palette.GetColor(i);
            top.LinePattern = ScottPlot.LinePattern.Dashed;
            xs.AddRange(x);
            ys.AddRange(y);
            xs.Add(Math.Log10(stats.Top1));
        }
        if (xs.Count > 0)
        {
            plt.Axes.Bottom.SetTicks(Decades(xs), Decades(xs).Select(Label).ToArray());
            plt.Axes.Left.SetTicks(Decades(ys), Decades(ys).Select(Label).ToArray());
        }
        plt.XLabel("|value| (log scale)");
        plt.YLabel($"share of values per bin ({MagnitudeAccumulator.ReportBinsPerOctave} bins per octave, log scale)");
        plt.Title($"activation magnitudes: {score.Model.Label}");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 800, 560);
    }

    private static double[] Decades(List<double> logs)
    {
        int lo = (int)Math.Floor(logs.Min()), hi = (int)Math.Ceiling(logs.Max());
        return Enumerable.Range(lo, hi - lo + 1).Select(k => (double)k).ToArray();
    }

    private static string Label(double exponent) => "1e" + exponent.ToString(CultureInfo.InvariantCulture);
}
