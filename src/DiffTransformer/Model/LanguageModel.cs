using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Model;

/// <summary>
/// The decoder-only language model, DIFF or baseline per <see cref="ModelConfig.Arch"/>:
/// token embedding → L pre-norm blocks → final RMSNorm → LM head (tied to the embedding or not).
/// State dict: embed_tokens.weight [V,E], layers.{i}.* (see <see cref="DecoderBlock"/>), norm.weight [E],
/// lm_head.weight [V,E] (absent when tied). <see cref="ParameterLayout"/> lists the same keys arithmetically.
/// </summary>
public sealed class LanguageModel : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Embedding embed_tokens;
    private readonly ModuleList<DecoderBlock> layers;
    private readonly RMSNorm norm;
    private readonly Projection? lm_head;
#pragma warning restore IDE1006

    public ModelConfig Config { get; }

    /// <summary>Rotary tables shared by every layer.</summary>
    public RotaryEmbedding Rotary { get; }

    /// <summary>Builds the model with freshly initialised weights (use <c>torch.manual_seed</c> first for reproducibility).</summary>
    public LanguageModel(ModelConfig config) : base(nameof(LanguageModel))
    {
        Config = config.Validate();
        config.CheckFitsMemory();
        // the rotary tables grow on demand: sizing them by max_seq_len up front would allocate 2·max_seq_len·d floats
        // before the first token (128 GB for max_seq_len 1e9), so start at what a long prompt needs at most
        Rotary = new RotaryEmbedding(config.HeadDim, config.RopeTheta, Math.Min(config.MaxSeqLen, 8192));
        embed_tokens = nn.Embedding(config.VocabSize, config.EmbedDim);
        layers = new ModuleList<DecoderBlock>();
        for (int i = 0; i < config.NumLayers; i++) layers.Add(new DecoderBlock(config, i, Rotary));
        norm = new RMSNorm(config.EmbedDim, config.NormEps);
        // int8 keeps the embedding float for the lookup and gives even a tied head an int8 copy of it: decoding reads the
        // head's V·E weights every token, as much as the whole rest of an 830M model
        if (!config.TieEmbeddings || config.LinearWeights == WeightFormat.Int8) lm_head = new Projection(config.EmbedDim, config.VocabSize, config.LinearWeights);
        RegisterComponents();
        InitializeWeights();
    }

    public IReadOnlyList<DecoderBlock> Layers => [.. layers];
    public Parameter EmbeddingWeight => embed_tokens.weight!;

    /// <summary>The attention kernel of every layer (default: blocked, which falls back to fused where it does not apply).</summary>
    public AttentionKernel Kernel
    {
        get => layers.Count > 0 ? layers[0].Attention.Kernel : AttentionKernel.Blocked;
        set { foreach (var l in layers) l.Attention.Kernel = value; }
    }

    /// <summary>
    /// The attention-logit quantisation of every layer (<see cref="LogitQuantization"/>); null, the default, is full
    /// precision and leaves the forward untouched. While it is set the layers run the explicit core, and
    /// <see cref="GreedyDecoder"/> recomputes whole sequences instead of decoding over a KV cache, so that every
    /// quantised forward sees a whole sequence.
    /// </summary>
    public LogitQuantization? Quantization
    {
        get => layers.Count > 0 ? layers[0].Attention.Quantization : null;
        set { foreach (var l in layers) l.Attention.Quantization = value; }
    }

    /// <summary>
    /// Matrices ~ N(0, init_std²), the residual-stream outputs (out_proj, down_proj) scaled by 1/√(2L)
    /// as in GPT-2, the token embedding ~ N(0, embed_init_std²) when the config sets it; norms start at one and the λ vectors at N(0, 0.1²) as the authors do.
    /// </summary>
    private void InitializeWeights()
    {
        using var _ = no_grad();
        double std = Config.InitStd;
        double residualStd = std / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (p.dim() != 2) continue;
            bool residual = name.EndsWith("out_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal);
            double s = residual ? residualStd : name == "embed_tokens.weight" ? Config.EmbedInitStd ?? std : std;
            nn.init.normal_(p, 0.0, s);
        }
    }

    public override Tensor forward(Tensor tokens) => Forward(tokens);

    /// <summary>
    /// tokens: (B, T) int64 → logits (B, T, V); the first token sits at position <paramref name="startPos"/>.
    /// With a <paramref name="cache"/> the tokens continue the cached ones: <paramref name="startPos"/> must equal
    /// <see cref="KvCache.Length"/> (or use <see cref="Forward(Tensor, KvCache)"/>), and each layer attends to the
    /// cached prefix instead of recomputing it.
    /// </summary>
    public Tensor Forward(Tensor tokens, long startPos = 0, AttentionCapture? capture = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var h = Hidden(tokens, startPos, capture, cache);                            // (B, T, E)
        return Head(h).MoveToOuterDisposeScope();                                   // (B, T, V)
    }

    /// <summary>Incremental forward: tokens (B, T) continue the <paramref name="cache"/>'s positions → logits (B, T, V).</summary>
    public Tensor Forward(Tensor tokens, KvCache cache) => Forward(tokens, cache.Length, null, cache);

    /// <summary>Final hidden states after the last norm, (B, T, E).</summary>
    public Tensor Hidden(Tensor tokens, long startPos = 0, AttentionCapture? capture = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        CheckTokens(tokens);
        if (cache is not null)
        {
            if (cache.Count != layers.Count)
                throw new ArgumentException($"the KV cache has {cache.Count} layers, the model {layers.Count}");
            if (cache.Length != startPos)
                throw new ArgumentException($"startPos {startPos} differs from the KV cache's length {cache.Length}; a cached forward continues where the cache ends");
        }
        var h = embed_tokens.forward(tokens);                                        // (B, T, E)
        for (int i = 0; i < layers.Count; i++)
        {
            h = layers[i].Forward(h, startPos, capture, cache?[i]);                  // (B, T, E)
            capture?.RecordLayerOutput(i, h);
        }
        return norm.forward(h).MoveToOuterDisposeScope();                            // (B, T, E)
    }

    /// <summary>
    /// One decode step for the B sequences of <paramref name="cache"/> (continuous batching): tokens (B, 1) int64, row b
    /// the next token of slot b's sequence, → logits (B, V); each sequence is one position longer afterwards.
    /// Everything runs on the batch, attention too (over the longest sequence's positions, each row's own hidden past
    /// its end), so each row gets what a single-sequence step gives it up to the rounding of batched products.
    /// </summary>
    public Tensor DecodeBatch(Tensor tokens, BatchKvCache cache)
    {
        using var scope = NewDisposeScope();
        CheckTokens(tokens);
        if (tokens.shape[1] != 1 || cache.Count != tokens.shape[0])
            throw new ArgumentException($"one token per sequence expected: tokens [{string.Join(", ", tokens.shape)}], {cache.Count} sequences in the cache");
        if (cache.Layers != layers.Count) throw new ArgumentException($"the batch cache has {cache.Layers} layers, the model {layers.Count}");
        cache.BeginStep();
        try
        {
            var h = embed_tokens.forward(tokens);                                    // (B, 1, E)
            foreach (var layer in layers) h = layer.DecodeBatch(h, cache);          // (B, 1, E)
            var logits = Head(norm.forward(h)).select(1, 0);                         // (B, V)
            cache.EndStep();
            return logits.MoveToOuterDisposeScope();
        }
        catch
        {
            cache.AbortStep();
            throw;
        }
    }

    /// <summary>An empty cache for a batch of independent sequences (<see cref="DecodeBatch"/>).</summary>
    public BatchKvCache CreateBatchCache() => new(layers.Count);

    /// <summary>
    /// An empty KV cache for this model (one layer cache per block). <paramref name="capacity"/> positions are
    /// preallocated (0: grow on demand, doubling); <paramref name="leftPadding"/> gives, per batch row, the padding
    /// positions before its prompt.
    /// </summary>
    public KvCache CreateCache(long capacity = 0, IReadOnlyList<long>? leftPadding = null) => new(layers.Count, capacity, leftPadding);

    /// <summary>LM head: (…, E) → (…, V), with the embedding matrix when tied.</summary>
    public Tensor Head(Tensor h) => lm_head is null ? F.linear(h, embed_tokens.weight!) : lm_head.forward(h);

    /// <summary>Mean next-token cross-entropy of logits (B, T, V) against targets (B, T).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var loss = F.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1)); // ()
        return loss.MoveToOuterDisposeScope();
    }

    private void CheckTokens(Tensor tokens)
    {
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must be (batch, time), got shape [{string.Join(", ", tokens.shape)}]");
        if (tokens.dtype != ScalarType.Int64) throw new ArgumentException($"tokens must be int64, got {tokens.dtype}");
        if (tokens.numel() == 0) throw new ArgumentException("tokens are empty");
        long min = tokens.min().item<long>(), max = tokens.max().item<long>();
        if (min < 0 || max >= Config.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {(min < 0 ? min : max)} is outside the vocabulary [0, {Config.VocabSize})");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Rotary.Dispose();
        base.Dispose(disposing);
    }
}
