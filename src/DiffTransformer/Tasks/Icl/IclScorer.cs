using DiffTransformer.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// Classifying an episode's queries without generating: after the demonstrations and a query's <c>{text} →</c>, the
/// model's log-probability of each of the episode's label names,
/// <c>score(s) = Σⱼ ln p(nⱼ | prefix, query, n₁…nⱼ₋₁)</c> over the tokens n of <c>" {name_s}\n"</c> (the line break
/// included, so that a name is scored as a whole word, never as the prefix of a longer one); the prediction is the slot
/// of the highest score (ties: the lowest slot, and slots are in random order).
/// <para>
/// The demonstrations are run once into a one-row KV cache, which is then copied into one row per (query, name)
/// (<see cref="KvCache.Expand"/>), and each row continues it with the query and the name, right-padded; a position never
/// sees a later one, so the padding changes nothing, and each score equals that of the whole sequence run alone (to
/// float rounding; tested).
/// </para>
/// </summary>
public static class IclScorer
{
    /// <summary>The episode's tokens before its queries: the end-of-text, then every demonstration with its class's name.</summary>
    public static int[] Prefix(IclEncoding encoding, IclExampleSet set, IclEpisode episode)
    {
        var prefix = new List<int> { encoding.EndOfText };
        foreach (int d in episode.Demonstrations) prefix.AddRange(encoding.Demonstration(d, episode.Names[episode.Slot(set.Examples[d].Class)]));
        return [.. prefix];
    }

    /// <summary>Per query, per slot, the summed log-probability of the slot's name (see the class); <paramref name="batchSize"/> rows a forward.</summary>
    public static double[][] LabelLogProbs(LanguageModel model, IclEncoding encoding, IclExampleSet set, IclEpisode episode, int batchSize = 32)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var prefix = Prefix(encoding, set, episode);
        int ways = episode.Classes.Length;
        var rows = new List<(int[] Query, int[] Name)>();
        foreach (int q in episode.Queries)
            for (int s = 0; s < ways; s++) rows.Add((encoding.Query(q), encoding.Names[episode.Names[s]]));
        int longest = rows.Max(r => r.Query.Length + r.Name.Length);
        if (prefix.Length + longest > model.Config.MaxSeqLen)
            throw new ArgumentException($"the episode takes {prefix.Length + longest} tokens, more than the model's context (max_seq_len {model.Config.MaxSeqLen})");

        var scores = new double[rows.Count];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var cache = model.CreateCache(prefix.Length);
            using (var scope = NewDisposeScope()) model.Forward(tensor(prefix.Select(t => (long)t).ToArray(), [1, prefix.Length]), cache);   // (1, P, V), discarded
            for (int at = 0; at < rows.Count; at += batchSize)
                ScoreRows(model, cache, rows, at, Math.Min(batchSize, rows.Count - at), encoding.EndOfText, scores);
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return Enumerable.Range(0, episode.Queries.Length).Select(q => scores[(q * ways)..((q + 1) * ways)]).ToArray();
    }

    /// <summary>Rows [at, at + n) continued from the prefix in <paramref name="cache"/>: their names' summed log-probabilities into <paramref name="scores"/>.</summary>
    private static void ScoreRows(LanguageModel model, KvCache cache, List<(int[] Query, int[] Name)> rows, int at, int n, int pad, double[] scores)
    {
        int length = rows.Skip(at).Take(n).Max(r => r.Query.Length + r.Name.Length);
        var input = new long[n * length];
        Array.Fill(input, pad);
        for (int r = 0; r < n; r++)
        {
            var (query, name) = rows[at + r];
            for (int j = 0; j < query.Length; j++) input[r * length + j] = query[j];
            for (int j = 0; j < name.Length; j++) input[r * length + query.Length + j] = name[j];
        }
        using var expanded = cache.Expand(n, cache.Length + length);
        using var scope = NewDisposeScope();
        var following = new long[n * length];                                           // the token after each position (pad after the last)
        Array.Fill(following, pad);
        for (int r = 0; r < n; r++) Array.Copy(input, r * length + 1, following, r * length, length - 1);
        var logp = F.log_softmax(model.Forward(tensor(input, [n, length]), expanded), -1);   // (n, L, V)
        var next = tensor(following, [n, length]);                                      // (n, L)
        var picked = logp.gather(2, next.unsqueeze(2)).squeeze(2).to_type(ScalarType.Float64).data<double>().ToArray();   // (n, L)
        for (int r = 0; r < n; r++)
        {
            var (query, name) = rows[at + r];
            double sum = 0;
            for (int j = 0; j < name.Length; j++) sum += picked[r * length + query.Length - 1 + j];   // position before name token j predicts it
            scores[at + r] = sum;
        }
    }

    /// <summary>Per query, the slot of its highest-scoring name (the lowest slot among equals).</summary>
    public static int[] Predict(double[][] logProbs) => logProbs.Select(s =>
    {
        int best = 0;
        for (int i = 1; i < s.Length; i++) if (s[i] > s[best]) best = i;
        return best;
    }).ToArray();

    /// <summary>How many of the episode's queries the model classifies right.</summary>
    public static int Correct(LanguageModel model, IclEncoding encoding, IclExampleSet set, IclEpisode episode, int batchSize = 32)
    {
        var predicted = Predict(LabelLogProbs(model, encoding, set, episode, batchSize));
        return episode.Queries.Where((q, i) => predicted[i] == episode.Slot(set.Examples[q].Class)).Count();
    }
}
