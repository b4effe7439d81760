using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;
using static TorchSharp.torch;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Attention allocation on the needle documents (the paper's Table 3; docs/EVALUATION.md, "eval attention"): each prompt
/// of <see cref="NeedleEval.CellPrompts"/> is fed with the answer up to (not including) its first digit token, through the
/// explicit kernel with every layer's maps captured; at the last position — the one that produces the first digit — the
/// attention row of every head is split into the share on the asked needle's value tokens and the share on the haystack
/// (of the row's absolute mass; signed shares and λ beside them).
/// </summary>
public static class AttentionEval
{
    public static AttentionEvalResult Run(IReadOnlyList<EvalModel> models, NeedleEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var lengths = NeedleEval.Check(models, options);
        var haystack = NeedleDataset.OpenHaystack(options.Haystack, options.HaystackField, options.Seed);
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        var scores = new List<AttentionModelScore>();
        foreach (var m in models)
        {
            var shares = new List<AttentionShare>();
            foreach (var cell in NeedleGridCell.All(lengths, options))
            {
                cancel.ThrowIfCancellationRequested();
                foreach (var p in NeedleEval.CellPrompts(m.Tokenizer, haystack, options, cell))
                    shares.Add(Measure(m, options.Task, p, cell.Length, cell.Setting.ToString(), cell.Depth));
                if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
                {
                    lastReport = clock.Elapsed;
                    progress.Report($"{m.Label}: {shares.Count} prompts measured ({cell}), {clock.Elapsed.TotalSeconds:F0} s");
                }
            }
            scores.Add(new AttentionModelScore(m.Info, shares));
        }
        return new AttentionEvalResult(haystack.Source, lengths, options.Settings.Select(s => s.ToString()).ToList(), options.Depths, options.Samples, scores);
    }

    /// <summary>The shares of one prompt, per layer (mean over heads).</summary>
    public static AttentionShare Measure(EvalModel m, NeedleTaskOptions task, NeedlePrompt prompt, int length, string setting, double depth)
    {
        var answer = task.Template.EncodeAnswer(m.Tokenizer, prompt.Value);
        int firstDigit = Array.FindIndex(answer, t => m.Tokenizer.Decode([t]).Any(char.IsAsciiDigit));
        if (firstDigit < 0) throw new InvalidOperationException($"the answer \"{m.Tokenizer.Decode(answer)}\" has no digit token");
        int[] input = [.. prompt.Tokens, .. answer[..firstDigit]];
        int q = input.Length - 1;
        var asked = prompt.Document.Needles.Single(n => n.Key == prompt.Key);
        var haystack = prompt.Document.HaystackPositions().ToArray();

        // DIFF and DIFF V2: the differential map (V1: A1 − λ·A2; V2: A₂ᵢ − σ(λᵢ(x))·A₂ᵢ₊₁ per pair); the Transformer: its softmax maps
        bool diff = m.Config.Arch is Architecture.Diff or Architecture.Diff2;
        using var capture = new AttentionCapture { WantLogits = false, WantProbs = !diff, WantDifferential = diff };
        bool wasTraining = m.Model.training;
        m.Model.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            m.Model.Forward(tensor(input.Select(x => (long)x).ToArray(), [1, input.Length]), 0, capture);
        }
        finally
        {
            if (wasTraining) m.Model.train();
        }
        List<double> answerShares = [], noise = [], rest = [], signedAnswer = [], signedNoise = [], lambdas = [];
        foreach (var layer in capture.Maps.OrderBy(x => x.Layer))
        {
            var map = diff ? layer.Differential! : layer.Probs!;                      // (1, heads, T, S)
            // V1's row sum is 1 − λ in every head; V2's is 1 − σ(λᵢ(x)) at this position, head by head (read off the row)
            bool perHead = layer.Lambda is null && diff;
            double rowSum = diff && !perHead ? 1 - layer.Lambda!.Value : 1;
            if (diff && !perHead) lambdas.Add(layer.Lambda!.Value);
            long heads = map.shape[1];
            double a = 0, n = 0, r = 0, sa = 0, sn = 0;
            for (long h = 0; h < heads; h++)
            {
                using var row = map[0, h, q];                                          // (S)
                var values = row.to_type(ScalarType.Float32).data<float>().ToArray();
                var abs = AbsoluteShares(values, asked.ValueStart, asked.ValueLength, haystack);
                a += abs.Answer;
                n += abs.Noise;
                r += abs.Other;
                // λ = 1 leaves the signed shares undefined; λ near 1 makes them large (why they are not the headline)
                double sum = perHead ? values.Sum(v => (double)v) : rowSum;
                var signed = sum == 0 ? (Answer: double.NaN, Noise: double.NaN, Other: double.NaN) : Shares(values, asked.ValueStart, asked.ValueLength, haystack, sum);
                sa += signed.Answer;
                sn += signed.Noise;
            }
            answerShares.Add(a / heads);
            noise.Add(n / heads);
            rest.Add(r / heads);
            signedAnswer.Add(sa / heads);
            signedNoise.Add(sn / heads);
        }
        return new AttentionShare(length, setting, depth, prompt.Sample, answerShares, noise, rest, signedAnswer, signedNoise, lambdas);
    }

    /// <summary>
    /// One attention row split by absolute weight: Σ|w| on [<paramref name="answerStart"/>, + <paramref name="answerLength"/>),
    /// on <paramref name="haystack"/> and on the other keys, each divided by the row's Σ|w|. For a softmax row these are the
    /// plain shares. For DIFF's A1 − λ·A2 they count a key by how strongly the map weighs it either way: the head's output
    /// goes through a per-head RMSNorm and W_o, which can use a negated map as well as the map itself (a layer with λ &gt; 1
    /// has a negative row sum), so the sign of a weight says less than its size.
    /// </summary>
    public static (double Answer, double Noise, double Other) AbsoluteShares(ReadOnlySpan<float> row, int answerStart, int answerLength, IReadOnlyList<int> haystack)
    {
        double a = 0, n = 0, all = 0;
        for (int j = answerStart; j < answerStart + answerLength; j++) a += Math.Abs(row[j]);
        foreach (int j in haystack) n += Math.Abs(row[j]);
        foreach (float x in row) all += Math.Abs(x);
        if (all == 0) throw new ArgumentException("the attention row is all zeros: its shares are undefined");
        return (a / all, n / all, (all - a - n) / all);
    }

    /// <summary>
    /// One attention row split into the share on [<paramref name="answerStart"/>, + <paramref name="answerLength"/>) and
    /// the share on <paramref name="haystack"/>, each divided by <paramref name="rowSum"/> (1 for softmax, 1 − λ for DIFF's
    /// A1 − λ·A2, whose rows sum to it): signed shares of a row that sums to 1 (for DIFF, negative or above 1 as the map's
    /// weights are, and without bound as λ nears 1).
    /// </summary>
    public static (double Answer, double Noise, double Other) Shares(ReadOnlySpan<float> row, int answerStart, int answerLength, IReadOnlyList<int> haystack, double rowSum)
    {
        if (rowSum == 0) throw new ArgumentException("the attention row sums to 0 (λ = 1): its shares are undefined");
        double a = 0, n = 0, all = 0;
        for (int j = answerStart; j < answerStart + answerLength; j++) a += row[j];
        foreach (int j in haystack) n += row[j];
        foreach (float x in row) all += x;
        return (a / rowSum, n / rowSum, (all - a - n) / rowSum);
    }
}
