using System.Diagnostics;
using DiffTransformer.Data;
using DiffTransformer.Interop;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>
/// Text generation with a KV cache: the prompt is run once (prefill), then each new token is one single-token
/// forward over the cached keys and values (O(context) per token), under <c>no_grad</c>.
/// An empty prompt starts a new document: the model is fed end-of-text alone, which is what precedes every
/// document in training data. Prompts are plain text (special-token strings are spelled out, never special ids).
/// </summary>
public sealed class TextGenerator : IDisposable
{
    /// <summary>A model may pad its vocabulary past the tokenizer's (the paper pads cl100k's 100,277 ids to 100,288 rows), by fewer than this many rows.</summary>
    public const int MaxVocabPadding = 128;

    private readonly bool ownsModel;

    /// <param name="ownsModel">dispose the model with the generator.</param>
    public TextGenerator(LanguageModel model, ITokenizer tokenizer, bool ownsModel = false)
    {
        CheckVocabulary(model.Config, tokenizer);
        Model = model;
        Tokenizer = tokenizer;
        this.ownsModel = ownsModel;
    }

    public LanguageModel Model { get; }
    public ITokenizer Tokenizer { get; }

    /// <summary>The model's context: prompt plus generated tokens fed to it never exceed this.</summary>
    public int ContextLength => Model.Config.MaxSeqLen;

    /// <summary>
    /// Loads a saved model (directory, weights file, or a run directory whose final/ holds it) with its tokenizer: the one named in its tokenizer.json
    /// (or that file itself when it is a Hugging Face tokenizer, <see cref="HfBpeTokenizer"/>), or
    /// <paramref name="tokenizer"/> for a model saved without one. Refuses a tokenizer that contradicts the recorded
    /// one, a vocabulary that does not fit the model's, and (via the strict loader) weights of another architecture.
    /// </summary>
    public static TextGenerator Load(string modelPath, string? tokenizer = null, AttentionKernel kernel = AttentionKernel.Blocked)
    {
        modelPath = ModelStore.ResolveModelPath(modelPath);                 // a run directory means its final/; nothing there is said plainly
        string? recorded = ModelStore.LoadTokenizerName(modelPath);
        if (recorded is not null && tokenizer is not null && recorded != tokenizer)
            throw new ArgumentException($"the model at {modelPath} was trained with the tokenizer '{recorded}' (its {ModelStore.TokenizerFile}); '{tokenizer}' was asked for");
        string name = recorded ?? tokenizer
            ?? throw new ArgumentException($"the model at {modelPath} has no {ModelStore.TokenizerFile} naming its tokenizer; give one ({string.Join(", ", Tokenizers.Names)})");
        var tok = recorded is null ? Tokenizers.Create(name) : ModelTokenizer.Load(modelPath)!;   // ModelTokenizer: ours by name, or a Hugging Face tokenizer.json
        CheckVocabulary(ModelStore.LoadConfig(modelPath), tok, modelPath);
        var model = ModelStore.Load(modelPath);
        model.Kernel = kernel;
        return new TextGenerator(model, tok, ownsModel: true);
    }

    /// <summary>The tokenizer's ids must index the model's embedding, which may pad a little past them.</summary>
    public static void CheckVocabulary(ModelConfig config, ITokenizer tokenizer, string? source = null)
    {
        string where = source is null ? "the model" : $"the model at {source}";
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ArgumentException($"the tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize:N0} ids but {where} has a vocabulary of {config.VocabSize:N0}: wrong tokenizer for this model");
        if (config.VocabSize - tokenizer.VocabSize >= MaxVocabPadding)
            throw new ArgumentException($"the tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize:N0} ids but {where} has a vocabulary of {config.VocabSize:N0} (more than {MaxVocabPadding} rows of padding): wrong tokenizer for this model");
    }

    /// <summary>
    /// The prompt's token ids as they will be fed: an empty prompt becomes end-of-text alone; a prompt longer than the
    /// context is refused (<see cref="PromptTooLongException"/>) unless truncation was asked for.
    /// </summary>
    public int[] PreparePrompt(string prompt, GenerationOptions options, out int truncated)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = Tokenizer.Encode(prompt);
        if (ids.Length == 0) ids = [Tokenizer.EndOfText];
        truncated = 0;
        int ctx = ContextLength;
        if (options.TruncatePromptFromLeft)
        {
            // Leave room for the requested tokens: the n-th new token needs P + n − 1 ≤ ctx positions.
            int keep = Math.Max(1, Math.Min(ids.Length, ctx + 1 - options.MaxNewTokens));
            keep = Math.Min(keep, ctx);
            truncated = ids.Length - keep;
            if (truncated > 0) ids = ids[^keep..];
        }
        else if (ids.Length > ctx)
        {
            throw new PromptTooLongException(ids.Length, ctx);
        }
        return ids;
    }

    /// <summary>Generates a continuation of <paramref name="prompt"/>; <paramref name="onText"/> receives the text as it is produced.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions? options = null, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        foreach (var chunk in Stream(prompt, options, cancellationToken))
        {
            if (chunk.Text.Length > 0) onText?.Invoke(chunk.Text);
            if (chunk.Result is not null) return chunk.Result;
        }
        throw new InvalidOperationException("generation ended without a result");
    }

    /// <summary>
    /// Generates lazily: each chunk is the text that became final with one token (possibly empty); the last chunk
    /// carries the <see cref="GenerationResult"/>. No dispose scope or grad mode spans a yield, so the consumer
    /// may resume the enumeration on another thread.
    /// </summary>
    public IEnumerable<GenerationChunk> Stream(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new GenerationOptions()).Validate();
        var ids = PreparePrompt(prompt, options, out int truncated);   // here, not in the iterator: a bad prompt fails at the call
        return StreamPrepared(ids, truncated, options, cancellationToken);
    }

    private IEnumerable<GenerationChunk> StreamPrepared(int[] promptIds, int truncated, GenerationOptions options, CancellationToken ct)
    {
        using var state = new GenerationState(this, promptIds, truncated, options);
        var chunk = state.Prefill();
        while (true)
        {
            yield return chunk;
            if (state.Finished) yield break;
            ct.ThrowIfCancellationRequested();
            chunk = state.Step();
        }
    }

    /// <summary>
    /// Several prompts at once, left-padded to the longest (the cache masks the padding): every row gives the same
    /// tokens as <see cref="Generate"/> on its own prompt with the same options (each row has its own sampler seeded
    /// alike), up to float rounding. Rows that finish early ride along until all are done. The context check uses the
    /// padded length.
    /// </summary>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<string> prompts, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new GenerationOptions()).Validate();
        if (prompts.Count == 0) return [];
        int b = prompts.Count, ctx = ContextLength;
        var ids = new int[b][];
        var truncated = new int[b];
        for (int i = 0; i < b; i++) ids[i] = PreparePrompt(prompts[i], options, out truncated[i]);
        int p = ids.Max(x => x.Length);
        if (p > ctx) throw new PromptTooLongException(p, ctx);
        int budget = Math.Min(options.MaxNewTokens, ctx - p + 1);
        var pads = ids.Select(x => (long)(p - x.Length)).ToArray();
        long seed = options.Sampling.Seed ?? Random.Shared.NextInt64();
        var samplers = Enumerable.Range(0, b).Select(_ => new Sampler(options.Sampling with { Seed = seed })).ToArray();
        var texts = Enumerable.Range(0, b).Select(_ => new TextAssembler(Tokenizer, options.StopStrings)).ToArray();
        var generated = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var finish = new FinishReason?[b];
        var watch = Stopwatch.StartNew();
        var prefillTime = TimeSpan.Zero;

        using var cache = Model.CreateCache(capacity: p + budget, leftPadding: pads);
        var next = new int[b];
        using (no_grad())
        using (NewDisposeScope())
        {
            var flat = new long[b * p];
            for (int i = 0; i < b; i++)
                for (int j = 0; j < p; j++)
                    flat[i * p + j] = j < pads[i] ? Tokenizer.EndOfText : ids[i][j - pads[i]];
            var tokens = tensor(flat, dtype: ScalarType.Int64).view(b, p);                        // (B, P)
            var logits = Model.Head(Model.Hidden(tokens, 0, null, cache).select(1, p - 1));        // (B, V)
            for (int i = 0; i < b; i++) next[i] = samplers[i].NextOne(logits[i], Tokenizer.VocabSize);
        }
        prefillTime = watch.Elapsed;
        watch.Restart();
        int steps = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (int i = 0; i < b; i++)
            {
                if (finish[i] is not null) continue;
                if (next[i] == Tokenizer.EndOfText && options.StopAtEndOfText) { finish[i] = FinishReason.EndOfText; continue; }
                generated[i].Add(next[i]);
                texts[i].Push(next[i]);
                if (texts[i].MatchedStop is not null) finish[i] = FinishReason.StopString;
                else if (generated[i].Count >= options.MaxNewTokens) finish[i] = FinishReason.MaxTokens;
                else if (generated[i].Count >= budget) finish[i] = FinishReason.ContextFull;
            }
            if (finish.All(f => f is not null)) break;
            using (no_grad())
            using (NewDisposeScope())
            {
                var tokens = tensor(next.Select(x => (long)x).ToArray(), dtype: ScalarType.Int64).view(b, 1); // (B, 1)
                var logits = Model.Forward(tokens, cache.Length, null, cache).select(1, 0);                    // (B, V)
                for (int i = 0; i < b; i++)
                    if (finish[i] is null) next[i] = samplers[i].NextOne(logits[i], Tokenizer.VocabSize);
            }
            steps++;
        }
        var decodeTime = watch.Elapsed;
        var results = new GenerationResult[b];
        for (int i = 0; i < b; i++)
        {
            texts[i].Flush();
            results[i] = new GenerationResult
            {
                Text = texts[i].Text,
                Tokens = generated[i],
                FinishReason = finish[i]!.Value,
                StopString = texts[i].MatchedStop,
                PromptTokens = ids[i].Length,
                TruncatedTokens = truncated[i],
                PrefillTime = prefillTime,
                DecodeTime = decodeTime,
                DecodeSteps = steps,
                Seed = seed,
            };
        }
        return results;
    }

    public void Dispose()
    {
        if (ownsModel) Model.Dispose();
    }
}
