using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Held-out language-modelling loss, perplexity and bits per byte (docs/EVALUATION.md, "eval lm"). Each document is
/// fed after an end-of-text token, as in training, and every one of its tokens is predicted from the tokens before it;
/// a document longer than the window is scored in windows of <c>context</c> tokens that move by <c>stride</c>, each
/// token scored once, in the first window that holds it as a new token. Bits per byte divide the summed nats by ln 2
/// and by the text's UTF-8 bytes, so models with different tokenizers compare.
/// </summary>
public static class LmEval
{
    /// <summary>Scores every model on the documents of <paramref name="options"/>.</summary>
    public static LmEvalResult Run(IReadOnlyList<EvalModel> models, LmEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var documents = CheckAndRead(models, options, out string source);
        var scores = new List<LmModelScore>();
        for (int mi = 0; mi < models.Count; mi++)
        {
            var m = models[mi];
            scores.Add(Score(m, documents, options, progress is null ? null : s => progress.Report($"model {mi + 1}/{models.Count} {m.Label}: {s}"), cancel));
        }
        return new LmEvalResult(source, documents.Count, scores);
    }

    /// <summary>One model's score on <paramref name="documents"/> (checked options, as <see cref="CheckAndRead"/> leaves them).</summary>
    public static LmModelScore Score(EvalModel m, IReadOnlyList<TextDocument> documents, LmEvalOptions options, Action<string>? progress = null, CancellationToken cancel = default)
    {
        var (context, stride) = Window(m, options);
        var perDoc = new List<LmDocumentScore>();
        double seconds = 0;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        for (int di = 0; di < documents.Count; di++)
        {
            cancel.ThrowIfCancellationRequested();
            var doc = documents[di];
            var tokens = m.Tokenizer.Encode(doc.Text);
            var watch = Stopwatch.StartNew();
            double nats = ScoreTokens(m.Model, m.Tokenizer.EndOfText, tokens, context, stride, options.BatchSize);
            seconds += watch.Elapsed.TotalSeconds;
            perDoc.Add(new LmDocumentScore(doc.Source, tokens.Length, System.Text.Encoding.UTF8.GetByteCount(doc.Text), nats));
            if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
            {
                lastReport = clock.Elapsed;
                long done = perDoc.Sum(d => d.Tokens);
                progress($"document {di + 1}/{documents.Count}, {done:N0} tokens, {done / Math.Max(seconds, 1e-9):N0} tokens/s");
            }
        }
        return new LmModelScore(m.Info, context, stride, perDoc.Sum(d => d.Tokens), perDoc.Sum(d => d.Bytes), perDoc.Sum(d => d.Nats), seconds, perDoc);
    }

    /// <summary>
    /// Checks the options against the models (batch size, document count, every model's window) before anything is read,
    /// then reads the documents (<see cref="ReadDocuments"/>).
    /// </summary>
    public static IReadOnlyList<TextDocument> CheckAndRead(IReadOnlyList<EvalModel> models, LmEvalOptions options, out string source)
    {
        if (models.Count == 0) throw new ArgumentException("no models to evaluate");
        if (options.BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {options.BatchSize}");
        if (options.MaxDocuments < 1) throw new ArgumentException($"--max-docs must be at least 1, got {options.MaxDocuments}");
        foreach (var m in models) Window(m, options);
        return ReadDocuments(options, out source);
    }

    /// <summary>The window and stride for <paramref name="model"/>, checked against its context.</summary>
    public static (int Context, int Stride) Window(EvalModel model, LmEvalOptions options)
    {
        int max = model.Config.MaxSeqLen;
        int context = options.Context ?? max;
        if (context < 1) throw new ArgumentException($"--context must be at least 1, got {context}");
        if (context > max)
            throw new ArgumentException($"--context {context} is longer than the context of the model at {model.Path} (max_seq_len {max})");
        int stride = options.Stride ?? Math.Max(1, context / 2);
        if (stride < 1 || stride > context) throw new ArgumentException($"--stride must be in [1, context = {context}], got {stride}");
        return (context, stride);
    }

    /// <summary>
    /// The documents of the inputs, in order, at most <see cref="LmEvalOptions.MaxDocuments"/>: a prepared dataset's
    /// split decoded document by document, or the text files, folders and JSONL files.
    /// </summary>
    public static IReadOnlyList<TextDocument> ReadDocuments(LmEvalOptions options, out string source)
    {
        if (options.Inputs.Count == 0) throw new ArgumentException("no held-out text given");
        List<TextDocument> docs;
        if (options.Inputs.Count == 1 && File.Exists(Path.Combine(options.Inputs[0], DatasetMeta.FileName)))
        {
            using var dataset = TokenDataset.Open(options.Inputs[0]);
            var split = dataset.Split(options.Split);
            source = $"{options.Inputs[0]} ({split.Name} split)";
            docs = DatasetDocuments(dataset, split, options.MaxDocuments);
        }
        else
        {
            source = string.Join(", ", options.Inputs);
            docs = TextInputs.ReadDocuments(TextInputs.Resolve(options.Inputs, options.Globs), options.Field).Take(options.MaxDocuments).ToList();
        }
        if (docs.Count == 0) throw new InvalidDataException($"no documents to score in {source} (every document is empty)");
        return docs;
    }

    private static List<TextDocument> DatasetDocuments(TokenDataset dataset, TokenSplit split, int max)
    {
        var tokenizer = dataset.CreateTokenizer();
        return split.ReadDocuments(tokenizer.EndOfText).Where(d => d.Length > 0).Take(max)
            .Select((d, i) => new TextDocument($"{split.Name} document {i}", tokenizer.Decode(d))).ToList();
    }

    /// <summary>
    /// Summed cross-entropy (nats) of <paramref name="tokens"/>, each predicted from end-of-text and the tokens before
    /// it. The sequence s = [eot, tokens…] is cut into windows of inputs s[a, min(a + context, n)) for a = 0, stride,
    /// 2·stride, … until a window reaches the end; a window's targets are s[a + 1, e + 1), of which those not scored by
    /// an earlier window count. Under no_grad, in eval mode; full windows are batched <paramref name="batchSize"/> at a time.
    /// </summary>
    public static double ScoreTokens(LanguageModel model, int eot, ReadOnlySpan<int> tokens, int context, int stride, int batchSize)
    {
        int n = tokens.Length;
        if (n == 0) return 0;
        var s = new long[n + 1];
        s[0] = eot;
        for (int i = 0; i < n; i++) s[i + 1] = tokens[i];
        var windows = new List<(int Start, int End, int FirstScored)>();        // input positions [Start, End); targets from FirstScored + 1
        int scoredUpTo = 0;
        for (int a = 0; ; a += stride)
        {
            int e = Math.Min(a + context, n);
            windows.Add((a, e, Math.Max(a, scoredUpTo)));
            scoredUpTo = e;
            if (e == n) break;
        }

        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            double nats = 0;
            foreach (var group in windows.GroupBy(w => w.End - w.Start))
            {
                var list = group.ToList();
                for (int i = 0; i < list.Count; i += batchSize)
                    nats += ScoreBatch(model, s, list.Skip(i).Take(batchSize).ToList(), group.Key);
            }
            return nats;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    private static double ScoreBatch(LanguageModel model, long[] s, List<(int Start, int End, int FirstScored)> windows, int length)
    {
        using var scope = NewDisposeScope();
        var inputs = new long[windows.Count * length];
        var targets = new long[windows.Count * length];
        for (int w = 0; w < windows.Count; w++)
        {
            Array.Copy(s, windows[w].Start, inputs, w * length, length);
            Array.Copy(s, windows[w].Start + 1, targets, w * length, length);
        }
        var hidden = model.Hidden(tensor(inputs, [windows.Count, length]));               // (B, L, E)
        var tgt = tensor(targets, [windows.Count, length]);                                // (B, L)
        double nats = 0;
        for (int w = 0; w < windows.Count; w++)
        {
            using var row = NewDisposeScope();
            var logp = model.Head(hidden[w]).log_softmax(-1, ScalarType.Float32);          // (L, V): one row at a time bounds memory for large V
            var picked = logp.gather(-1, tgt[w].unsqueeze(-1)).squeeze(-1);              // (L)
            var values = picked.data<float>().ToArray();
            for (int i = windows[w].FirstScored - windows[w].Start; i < length; i++) nats -= values[i];
        }
        return nats;
    }
}
