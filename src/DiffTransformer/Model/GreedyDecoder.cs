using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Greedy decoding of token prompts in batches, over the KV cache (prompts of one length share a batch, no padding);
/// a model whose logits are quantised (<see cref="LanguageModel.Quantization"/>) recomputes the whole sequence for every
/// token instead, so that each quantised forward sees whole sequences, as in scoring.
/// </summary>
public static class GreedyDecoder
{
    /// <summary>The <paramref name="maxNew"/> most likely next tokens of each prompt, chosen one at a time.</summary>
    public static int[][] Decode(LanguageModel model, IReadOnlyList<int[]> prompts, int maxNew, int batchSize = 16)
    {
        var results = new int[prompts.Count][];
        foreach (var group in Enumerable.Range(0, prompts.Count).GroupBy(i => prompts[i].Length))
        {
            int length = group.Key;
            if (length + maxNew > model.Config.MaxSeqLen)
                throw new ArgumentException($"a prompt of {length} tokens and {maxNew} new ones exceed the model's context (max_seq_len {model.Config.MaxSeqLen})");
            var ids = group.ToList();
            for (int at = 0; at < ids.Count; at += batchSize)
            {
                var batch = ids.Skip(at).Take(batchSize).ToList();
                var outs = DecodeBatch(model, batch.Select(i => prompts[i]).ToList(), maxNew);
                for (int j = 0; j < batch.Count; j++) results[batch[j]] = outs[j];
            }
        }
        return results;
    }

    private static int[][] DecodeBatch(LanguageModel model, List<int[]> prompts, int maxNew)
    {
        int b = prompts.Count, t = prompts[0].Length;
        var outs = Enumerable.Range(0, b).Select(_ => new int[maxNew]).ToArray();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var cache = model.Quantization is null ? model.CreateCache(t + maxNew) : null;
            var flat = prompts.SelectMany(p => p.Select(x => (long)x)).ToArray();
            Tensor input = tensor(flat, [b, t]);
            for (int step = 0; step < maxNew; step++)
            {
                using var scope = NewDisposeScope();
                var logits = cache is null ? model.Forward(input) : model.Forward(input, cache); // (B, T, V)
                var next = logits.select(1, logits.shape[1] - 1).argmax(-1);                // (B)
                var values = next.data<long>().ToArray();
                for (int i = 0; i < b; i++) outs[i][step] = (int)values[i];
                var following = cache is null ? cat([input, next.view(b, 1)], 1) : next.view(b, 1); // the whole sequence, or the new token
                input.Dispose();
                input = following.DetachFromDisposeScope();
            }
            input.Dispose();
            return outs;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}
