namespace DiffTransformer.Training;

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
