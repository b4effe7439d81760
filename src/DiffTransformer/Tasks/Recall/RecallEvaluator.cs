using DiffTransformer.Model;
using DiffTransformer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Tasks.Recall;

/// <summary>Scores a language model on recall documents (<see cref="RecallTaskGenerator"/>), byte-level.</summary>
public static class RecallEvaluator
{
    /// <summary>
    /// Token index of a document's first character in the model input: documents are fed after an end-of-text
    /// token, as every training document (but the very first) follows the previous one's end-of-text.
    /// </summary>
    public const int PromptOffset = 1;

    /// <summary>
    /// The model input for <paramref name="example"/>: end-of-text followed by the document's tokens. Throws
    /// <see cref="ArgumentException"/> unless the tokenizer gives one token per character, since spans are character offsets.
    /// </summary>
    public static int[] InputTokens(RecallExample example, ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(example);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = tokenizer.Encode(example.Text);
        if (ids.Length != example.Text.Length)
            throw new ArgumentException(
                $"recall evaluation needs one token per character (the byte tokenizer): tokenizer '{tokenizer.Name}' encodes a {example.Text.Length}-character document as {ids.Length} tokens");
        var input = new int[ids.Length + PromptOffset];
        input[0] = tokenizer.EndOfText;
        ids.CopyTo(input, PromptOffset);
        return input;
    }

    /// <summary>The token spans of query <paramref name="query"/> of <paramref name="example"/> in its model input.</summary>
    public static RecallQueryLayout Layout(RecallExample example, int query)
    {
        ArgumentNullException.ThrowIfNull(example);
        if ((uint)query >= (uint)example.Queries.Count)
            throw new ArgumentOutOfRangeException(nameof(query), query, $"the document has {example.Queries.Count} queries");
        var q = example.Queries[query];
        var pair = example.Pairs[q.PairIndex];
        var distractors = new List<IndexSpan>();
        var nearMisses = new List<IndexSpan>();
        for (int i = 0; i < example.Pairs.Count; i++)
        {
            if (i == q.PairIndex) continue;
            var span = example.Pairs[i].Span.Shift(PromptOffset);
            distractors.Add(span);
            if (RecallExample.HammingDistance(example.Pairs[i].Key, pair.Key) == 1) nearMisses.Add(span);
        }
        var answer = q.AnswerSpan.Shift(PromptOffset);
        return new RecallQueryLayout(
            query,
            AnswerPositions: answer.Shift(-1),
            Answer: answer,
            QueriedKey: pair.KeySpan.Shift(PromptOffset),
            QueriedValue: pair.ValueSpan.Shift(PromptOffset),
            QueriedPair: pair.Span.Shift(PromptOffset),
            DistractorPairs: distractors,
            NearMissPairs: nearMisses,
            Context: example.Context.Shift(PromptOffset),
            Depth: example.Depth(query));
    }

    /// <summary>
    /// Recall accuracy of <paramref name="model"/> on <paramref name="examples"/>, <paramref name="batchSize"/> documents
    /// per forward, under <c>no_grad</c> and in eval mode (the model's mode is restored afterwards).
    /// </summary>
    public static RecallScore Evaluate(LanguageModel model, ITokenizer tokenizer, IReadOnlyList<RecallExample> examples, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            return Evaluate(tokens => model.Forward(tokens), model.Config.MaxSeqLen, tokenizer, examples, batchSize);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// As <see cref="Evaluate(LanguageModel, ITokenizer, IReadOnlyList{RecallExample}, int)"/> for any causal next-token
    /// predictor: <paramref name="logitsOf"/> maps tokens (B, T) int64 to logits (B, T, V). Documents are sorted by
    /// length and batched, each batch padded on the right to its longest with end-of-text; padded positions are never
    /// scored, and a causal model's predictions at real positions do not depend on them.
    /// </summary>
    public static RecallScore Evaluate(Func<Tensor, Tensor> logitsOf, int maxSeqLen, ITokenizer tokenizer, IReadOnlyList<RecallExample> examples, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(logitsOf);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var inputs = new int[examples.Count][];
        for (int i = 0; i < examples.Count; i++)
        {
            inputs[i] = InputTokens(examples[i], tokenizer);
            if (inputs[i].Length > maxSeqLen)
                throw new ArgumentException($"recall document {i} needs {inputs[i].Length} tokens (with the leading end-of-text), more than the model's max_seq_len {maxSeqLen}");
        }
        // Sorting by length keeps padding small; ties keep their order so the batches are reproducible.
        var order = Enumerable.Range(0, examples.Count).OrderBy(i => inputs[i].Length).ToArray();
        var total = RecallScore.Empty;
        using var noGrad = torch.no_grad();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var batch = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            int length = batch.Max(i => inputs[i].Length);
            var flat = new long[batch.Length * length];
            Array.Fill(flat, tokenizer.EndOfText);
            for (int b = 0; b < batch.Length; b++)
                for (int t = 0; t < inputs[batch[b]].Length; t++) flat[b * length + t] = inputs[batch[b]][t];
            var tokens = torch.tensor(flat, [batch.Length, length], ScalarType.Int64);
            var logits = logitsOf(tokens);                                                        // (B, T, V)
            total += Score(logits, [.. batch.Select(i => inputs[i])], [.. batch.Select(i => examples[i])]);
        }
        return total;
    }

    /// <summary>
    /// Scores logits (B, T, V) of the inputs <paramref name="inputs"/> (B rows, each at most T tokens, as made by
    /// <see cref="InputTokens"/>) for the documents <paramref name="examples"/>: the answer character at input index
    /// p is correct when the argmax of logits[b, p − 1] is the token at p. Positions past a row's length are ignored.
    /// </summary>
    public static RecallScore Score(Tensor logits, IReadOnlyList<int[]> inputs, IReadOnlyList<RecallExample> examples)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (inputs.Count != examples.Count)
            throw new ArgumentException($"{inputs.Count} inputs but {examples.Count} examples");
        if (logits.dim() != 3 || logits.shape[0] != inputs.Count)
            throw new ArgumentException($"logits must be (batch = {inputs.Count}, time, vocab), got shape [{string.Join(", ", logits.shape)}]");
        long time = logits.shape[1];
        foreach (var (input, b) in inputs.Select((x, b) => (x, b)))
            if (input.Length > time)
                throw new ArgumentException($"input {b} has {input.Length} tokens but the logits cover only {time} positions");
        using var scope = torch.NewDisposeScope();
        // Next-token targets (0 where there is none; those positions are never read).
        var next = new long[inputs.Count * time];
        for (int b = 0; b < inputs.Count; b++)
            for (int t = 0; t + 1 < inputs[b].Length; t++) next[b * time + t] = inputs[b][t + 1];
        var x = logits.detach().to_type(ScalarType.Float32);                                              // (B, T, V)
        var target = torch.tensor(next, [inputs.Count, time, 1], ScalarType.Int64).to(x.device);
        var nll = x.logsumexp(-1).sub(x.gather(-1, target).squeeze(-1));                                  // (B, T)
        var predicted = x.argmax(-1).to_type(ScalarType.Int64).cpu().data<long>().ToArray();             // (B·T) row-major
        var losses = nll.cpu().data<float>().ToArray();
        int queries = 0, correctQueries = 0, chars = 0, correctChars = 0;
        double lossSum = 0;
        for (int b = 0; b < inputs.Count; b++)
        {
            var input = inputs[b];
            foreach (var q in examples[b].Queries)
            {
                var answer = q.AnswerSpan.Shift(PromptOffset);
                if (answer.Start < 1 || answer.End > input.Length)
                    throw new ArgumentException($"answer {answer} of example {b} lies outside its {input.Length}-token input");
                bool all = true;
                for (int p = answer.Start; p < answer.End; p++)
                {
                    bool ok = predicted[b * time + p - 1] == input[p];
                    all &= ok;
                    if (ok) correctChars++;
                    lossSum += losses[b * time + p - 1];
                }
                chars += answer.Length;
                queries++;
                if (all) correctQueries++;
            }
        }
        return new RecallScore(inputs.Count, queries, correctQueries, chars, correctChars, lossSum);
    }
}
