using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>One figure of <c>eval quant</c> against the bits (ScottPlot PNG): full precision, then each bit width; per model a line per granularity (per-head dashed).</summary>
public static class QuantPlot
{
    public static void Write(string path, QuantEvalResult result, string metric, Func<QuantPoint, double> figure)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double[] xs = Enumerable.Range(0, result.Bits.Count + 1).Select(i => (double)i).ToArray();
        for (int i = 0; i < result.Models.Count; i++)
        {
            var m = result.Models[i];
            foreach (var g in result.Granularities)
            {
                var line = plt.Add.Scatter(xs, [figure(m.Full), .. result.Bits.Select(b => figure(m.At(b, g)))]);
                line.Color = palette.GetColor(i);
                line.LegendText = $"{m.Model.Label}, per-{g.ToString().ToLowerInvariant()}";
                if (g == QuantGranularity.Head) line.LinePattern = ScottPlot.LinePattern.Dashed;
            }
        }
        plt.Axes.Bottom.SetTicks(xs, ["full", .. result.Bits.Select(b => b.ToString(CultureInfo.InvariantCulture))]);
        plt.XLabel("bits of the attention logits");
        plt.YLabel(metric);
        plt.Title($"{metric} against the bits of the attention logits");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 800, 560);
    }
}
