using System.Globalization;

namespace DiffTransformer.Evaluation;

/// <summary>The figures of <c>eval icl</c> as ScottPlot PNGs: accuracy against the shots, and the spread of accuracy across orders.</summary>
public static class IclPlot
{
    /// <summary>Accuracy against the number of demonstrations, a line per model, chance dashed; the shots evenly spaced.</summary>
    public static void WriteShots(string path, IclEvalResult result)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var shots = result.Models[0].Shots.Select(p => p.Shots).ToList();
        double[] xs = Enumerable.Range(0, shots.Count).Select(i => (double)i).ToArray();
        for (int i = 0; i < result.Models.Count; i++)
        {
            var m = result.Models[i];
            var line = plt.Add.Scatter(xs, m.Shots.Select(p => p.Accuracy).ToArray());
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = m.Model.Label;
        }
        Chance(plt, xs[0], xs[^1], result.Chance);
        plt.Axes.Bottom.SetTicks(xs, shots.Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.SetLimitsY(0, 1);
        plt.XLabel("demonstrations (shots)");
        plt.YLabel("accuracy");
        plt.Title($"in-context classification, {result.Ways} classes an episode");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 800, 560);
    }

    /// <summary>
    /// Per model, two columns — random orders, class-grouped orders — holding every order's accuracy (the sets side by
    /// side within a column) and, as a bar from worst to best, each set's range; chance dashed.
    /// </summary>
    public static void WriteOrders(string path, IclEvalResult result)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var ticks = new List<(double X, string Label)>();
        for (int i = 0; i < result.Models.Count; i++)
        {
            var m = result.Models[i];
            foreach (var (column, grouped) in new[] { (0, false), (1, true) })
            {
                double x0 = 3 * i + column;
                ticks.Add((x0, $"{m.Model.Arch.ToString().ToLowerInvariant()} {(i + 1).ToString(CultureInfo.InvariantCulture)}: {(grouped ? "grouped" : "random")}"));
                for (int s = 0; s < m.OrderSets.Count; s++)
                {
                    var accuracies = grouped ? m.OrderSets[s].Grouped : m.OrderSets[s].Random;
                    double x = x0 + (m.OrderSets.Count == 1 ? 0 : 0.5 * s / (m.OrderSets.Count - 1) - 0.25);
                    var range = plt.Add.Scatter(new[] { x, x }, new[] { accuracies.Min(), accuracies.Max() });
                    range.Color = palette.GetColor(i);
                    range.LineWidth = 3;
                    range.MarkerSize = 0;
                    var points = plt.Add.Scatter(accuracies.Select(_ => x).ToArray(), accuracies.ToArray());
                    points.Color = palette.GetColor(i);
                    points.LineWidth = 0;
                    points.MarkerSize = 6;
                    if (s == 0 && !grouped) points.LegendText = m.Model.Label;
                }
            }
        }
        Chance(plt, -0.5, 3.0 * result.Models.Count - 1.5, result.Chance);
        plt.Axes.Bottom.SetTicks(ticks.Select(t => t.X).ToArray(), ticks.Select(t => t.Label).ToArray());
        plt.Axes.SetLimitsY(0, 1);
        plt.YLabel("accuracy of one order");
        plt.Title($"spread across orders: {result.OrderSets} sets of {result.OrderShots} demonstrations, {result.Orders} orders each");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 900, 560);
    }

    /// <summary>Chance as a dashed grey line from <paramref name="x0"/> to <paramref name="x1"/>.</summary>
    private static void Chance(ScottPlot.Plot plt, double x0, double x1, double chance)
    {
        var line = plt.Add.Scatter(new[] { x0, x1 }, new[] { chance, chance });
        line.Color = ScottPlot.Colors.Gray;
        line.LinePattern = ScottPlot.LinePattern.Dashed;
        line.MarkerSize = 0;
        line.LegendText = $"chance ({chance.ToString("F3", CultureInfo.InvariantCulture)})";
    }
}
