namespace DiffTransformer.Evaluation;

/// <summary>Attention allocation by answer depth (ScottPlot PNG): per model, the answer share solid and the noise share dashed.</summary>
public static class AllocationPlot
{
    public static void Write(string path, AttentionEvalResult result)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < result.Models.Count; i++)
        {
            var m = result.Models[i];
            var depths = m.ByDepth.Keys.ToArray();
            var color = palette.GetColor(i);
            var a = plt.Add.Scatter(depths.Select(d => 100 * d).ToArray(), depths.Select(d => m.ByDepth[d].Answer).ToArray());
            a.Color = color;
            a.LegendText = $"{m.Model.Label}: answer";
            var n = plt.Add.Scatter(depths.Select(d => 100 * d).ToArray(), depths.Select(d => m.ByDepth[d].Noise).ToArray());
            n.Color = color;
            n.LineStyle.Pattern = ScottPlot.LinePattern.Dashed;
            n.LegendText = $"{m.Model.Label}: noise";
        }
        plt.XLabel("answer depth (%)");
        plt.YLabel("share of the answering row's Σ|w|");
        plt.Title("attention allocation (DIFF: A1 − λ·A2; Transformer: softmax)");
        plt.ShowLegend(ScottPlot.Edge.Bottom);
        plt.SavePng(path, 800, 560);
    }
}
