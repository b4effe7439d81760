using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Activation outliers (the paper's Table 5; docs/EVALUATION.md, "eval outliers"): the held-out documents of
/// <c>eval lm</c> (its options, without a stride), each fed as [end-of-text, tokens…] in disjoint windows of the context
/// (<see cref="LmEvalOptions.Context"/>), <see cref="LmEvalOptions.BatchSize"/> at a time, through the explicit core;
/// every layer's attention logits (causal entries of all 2H maps) and output are streamed into
/// <see cref="MagnitudeAccumulator"/>s as the forward produces them, so no more than one layer's maps are held.
/// </summary>
public static class OutlierEval
{
    public static OutlierEvalResult Run(IReadOnlyList<EvalModel> models, LmEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        if (options.Stride is not null) throw new ArgumentException($"eval outliers feeds disjoint windows: a stride ({options.Stride}) does not apply");
        var documents = LmEval.CheckAndRead(models, options, out string source);
        var scores = new List<OutlierModelScore>();
        for (int mi = 0; mi < models.Count; mi++)
        {
            var m = models[mi];
            var (context, _) = LmEval.Window(m, options);
            var windows = Windows(documents.Select(d => m.Tokenizer.Encode(d.Text)), m.Tokenizer.EndOfText, context);
            scores.Add(Measure(m, windows, context, options.BatchSize, progress is null ? null : s => progress.Report($"model {mi + 1}/{models.Count} {m.Label}: {s}"), cancel));
        }
        return new OutlierEvalResult(source, documents.Count, MagnitudeAccumulator.MedianRelativeError, scores);
    }

    /// <summary>Each document as s = [eot, tokens…] cut into disjoint windows s[a, a + context), a = 0, context, …; the last may be shorter.</summary>
    public static List<long[]> Windows(IEnumerable<int[]> documents, int eot, int context)
    {
        var windows = new List<long[]>();
        foreach (var tokens in documents)
        {
            long[] s = [eot, .. tokens.Select(t => (long)t)];
            for (int a = 0; a < s.Length; a += context) windows.Add(s[a..Math.Min(a + context, s.Length)]);
        }
        return windows;
    }

    /// <summary>The magnitudes of one model over <paramref name="windows"/>, fed <paramref name="batchSize"/> windows of one length at a time.</summary>
    public static OutlierModelScore Measure(EvalModel m, IReadOnlyList<long[]> windows, int context, int batchSize,
        Action<string>? progress = null, CancellationToken cancel = default)
    {
        int layers = m.Config.NumLayers;
        var logits = Enumerable.Range(0, layers).Select(_ => new MagnitudeAccumulator()).ToArray();
        var hidden = Enumerable.Range(0, layers).Select(_ => new MagnitudeAccumulator()).ToArray();
        using var capture = new AttentionCapture
        {
            WantProbs = false, WantDifferential = false,
            OnMaps = maps => logits[maps.Layer].Add(CausalEntries(maps.Logits!)),
            OnLayerOutput = (i, h) => hidden[i].Add(h),
        };
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        long tokens = 0;
        int done = 0;
        bool wasTraining = m.Model.training;
        m.Model.eval();
        try
        {
            using var _ = no_grad();
            foreach (var group in windows.GroupBy(w => w.Length))
            {
                var list = group.ToList();
                for (int i = 0; i < list.Count; i += batchSize)
                {
                    cancel.ThrowIfCancellationRequested();
                    var batch = list.Skip(i).Take(batchSize).ToList();
                    using var scope = NewDisposeScope();
                    m.Model.Hidden(tensor(batch.SelectMany(w => w).ToArray(), [batch.Count, group.Key]), 0, capture);
                    tokens += batch.Count * (long)group.Key;
                    done += batch.Count;
                    if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
                    {
                        lastReport = clock.Elapsed;
                        progress($"window {done}/{windows.Count}, {tokens:N0} tokens, {tokens / clock.Elapsed.TotalSeconds:N0} tokens/s");
                    }
                }
            }
        }
        finally
        {
            if (wasTraining) m.Model.train();
        }
        return new OutlierModelScore(m.Info, context, windows.Count, tokens, clock.Elapsed.TotalSeconds,
            Overall(logits), Overall(hidden), logits.Select(a => a.Summary()).ToList(), hidden.Select(a => a.Summary()).ToList());
    }

    /// <summary>The entries of logits (B, M, T, S) that a query sees under the bottom-right causal rule, flattened.</summary>
    public static Tensor CausalEntries(Tensor logits)
    {
        long t = logits.shape[^2], s = logits.shape[^1];
        using var visible = ones(t, s, dtype: ScalarType.Bool).tril(s - t);
        return logits.masked_select(visible);
    }

    private static MagnitudeStats Overall(IEnumerable<MagnitudeAccumulator> perLayer)
    {
        var all = new MagnitudeAccumulator();
        foreach (var a in perLayer) all.Merge(a);
        return all.Summary();
    }
}
