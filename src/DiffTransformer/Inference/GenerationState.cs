using System.Diagnostics;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>
/// One generation in progress: its prompt, KV cache, sampler, text so far and why it ended. The model calls are made by
/// whoever drives it — <see cref="TextGenerator"/> one token at a time, <see cref="ContinuousBatcher"/> in a batch with
/// others — and both turn tokens into chunks here, so a sequence ends and reports alike either way.
/// </summary>
internal sealed class GenerationState : IDisposable
{
    private readonly TextGenerator generator;
    private readonly int[] promptIds;
    private readonly int truncated;
    private readonly GenerationOptions options;
    private readonly Sampler sampler;
    private readonly TextAssembler text;
    private readonly List<int> generated = [];
    private readonly int budget;
    private TimeSpan prefillTime;
    private TimeSpan decodeTime;

    public GenerationState(TextGenerator generator, int[] promptIds, int truncated, GenerationOptions options)
    {
        this.generator = generator;
        this.promptIds = promptIds;
        this.truncated = truncated;
        this.options = options;
        sampler = new Sampler(options.Sampling);
        text = new TextAssembler(generator.Tokenizer, options.StopStrings);
        int ctx = generator.ContextLength;
        budget = Math.Min(options.MaxNewTokens, ctx - promptIds.Length + 1);   // the n-th new token needs P + n − 1 ≤ ctx fed positions
        Cache = generator.Model.CreateCache(capacity: Math.Min(ctx, promptIds.Length + budget));
    }

    /// <summary>This sequence's keys and values (batch 1).</summary>
    public KvCache Cache { get; }

    /// <summary>The token the next decode step feeds (the last one sampled).</summary>
    public int Next { get; private set; }

    /// <summary>Set once the last chunk (with the result) has been produced.</summary>
    public bool Finished { get; private set; }

    /// <summary>Runs the prompt into the cache and samples the first token; returns its chunk.</summary>
    public GenerationChunk Prefill()
    {
        var watch = Stopwatch.StartNew();
        int p = promptIds.Length;
        using (no_grad())
        using (NewDisposeScope())
        {
            var tokens = tensor(Array.ConvertAll(promptIds, x => (long)x), dtype: ScalarType.Int64).view(1, p);  // (1, P)
            var last = generator.Model.Hidden(tokens, 0, null, Cache).select(1, p - 1);                        // (1, E)
            Next = sampler.NextOne(generator.Model.Head(last), generator.Tokenizer.VocabSize);
        }
        prefillTime = watch.Elapsed;
        return Accept();
    }

    /// <summary>One decode step alone: feeds <see cref="Next"/> and samples the token after it; returns its chunk.</summary>
    public GenerationChunk Step()
    {
        var watch = Stopwatch.StartNew();
        using (no_grad())
        using (NewDisposeScope())
        {
            var token = tensor(new long[] { Next }, dtype: ScalarType.Int64).view(1, 1);        // (1, 1)
            var logits = generator.Model.Forward(token, Cache.Length, null, Cache);             // (1, 1, V)
            Next = sampler.NextOne(logits.view(-1), generator.Tokenizer.VocabSize);
        }
        decodeTime += watch.Elapsed;
        return Accept();
    }

    /// <summary>After a batched step that fed <see cref="Next"/>: samples from this row's logits (V); <paramref name="elapsed"/> is the step's time.</summary>
    public GenerationChunk Step(Tensor logits, TimeSpan elapsed)
    {
        Next = sampler.NextOne(logits, generator.Tokenizer.VocabSize);
        decodeTime += elapsed;
        return Accept();
    }

    /// <summary>Ends the generation now (the server is stopping): the text so far, finish reason <see cref="FinishReason.Interrupted"/>.</summary>
    public GenerationChunk Interrupt() => End(FinishReason.Interrupted, "");

    /// <summary>Takes <see cref="Next"/> as generated and says whether that ends the generation.</summary>
    private GenerationChunk Accept()
    {
        if (Next == generator.Tokenizer.EndOfText && options.StopAtEndOfText) return End(FinishReason.EndOfText, "");
        generated.Add(Next);
        string piece = text.Push(Next);
        if (text.MatchedStop is not null) return End(FinishReason.StopString, piece);
        if (generated.Count >= options.MaxNewTokens) return End(FinishReason.MaxTokens, piece);
        if (generated.Count >= budget) return End(FinishReason.ContextFull, piece);
        return new GenerationChunk(piece);
    }

    private GenerationChunk End(FinishReason finish, string piece)
    {
        if (Finished) throw new InvalidOperationException("the generation has ended already");
        Finished = true;
        piece += text.Flush();
        return new GenerationChunk(piece, new GenerationResult
        {
            Text = text.Text,
            Tokens = generated,
            FinishReason = finish,
            StopString = text.MatchedStop,
            PromptTokens = promptIds.Length,
            TruncatedTokens = truncated,
            PrefillTime = prefillTime,
            DecodeTime = decodeTime,
            DecodeSteps = Math.Max(0, generated.Count + (finish == FinishReason.EndOfText ? 1 : 0) - 1),
            Seed = sampler.Seed,
        });
    }

    public void Dispose() => Cache.Dispose();
}
