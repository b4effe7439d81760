using DiffTransformer.Kernels;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Pre-norm decoder block: <c>Y = X + Attn(RMSNorm(X))</c>, <c>X' = Y + SwiGLU(RMSNorm(Y))</c>.
/// State dict: attn_norm.weight, attn.*, ffn_norm.weight, ffn.*.
/// </summary>
public sealed class DecoderBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly RMSNorm attn_norm;
    private readonly AttentionModule attn;
    private readonly RMSNorm ffn_norm;
    private readonly SwiGLU ffn;
#pragma warning restore IDE1006

    public DecoderBlock(ModelConfig config, int depth, RotaryEmbedding rotary) : base(nameof(DecoderBlock))
    {
        attn_norm = new RMSNorm(config.EmbedDim, config.NormEps);
        attn = config.Arch switch
        {
            Architecture.Diff => new DifferentialAttention(config.EmbedDim, depth, config.NumHeads, config.NumKvHeads, rotary, headNormEps: config.SublnEps, weights: config.LinearWeights),
            Architecture.Diff2 => new DifferentialAttentionV2(config.EmbedDim, depth, config.NumHeads, config.KvHeads, rotary, weights: config.LinearWeights),
            _ => new MultiheadAttention(config.EmbedDim, depth, 2 * config.NumHeads, 2 * config.KvHeads, rotary, weights: config.LinearWeights),
        };
        ffn_norm = new RMSNorm(config.EmbedDim, config.NormEps);
        ffn = new SwiGLU(config.EmbedDim, config.FfnHidden, config.LinearWeights);
        RegisterComponents();
    }

    public AttentionModule Attention => attn;
    public SwiGLU FeedForward => ffn;

    public override Tensor forward(Tensor x) => Forward(x);

    /// <summary>
    /// x: (B, T, E) → (B, T, E); tokens start at position <paramref name="startPos"/>. With a <paramref name="cache"/>
    /// (this layer's), attention appends the new keys and values and reads the cached prefix.
    /// </summary>
    public Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var y = x.add(attn.Forward(attn_norm.forward(x), startPos, capture, cache), Scalars.Of(1)); // (B, T, E)
        var o = y.add(ffn.forward(ffn_norm.forward(y)), Scalars.Of(1));      // (B, T, E)
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>One token for each sequence of <paramref name="cache"/>, x (B, 1, E) (see <see cref="AttentionModule.DecodeBatch"/>).</summary>
    public Tensor DecodeBatch(Tensor x, BatchKvCache cache)
    {
        using var scope = NewDisposeScope();
        var y = x.add(attn.DecodeBatch(attn_norm.forward(x), cache), Scalars.Of(1));  // (B, 1, E)
        return y.add(ffn.forward(ffn_norm.forward(y)), Scalars.Of(1)).MoveToOuterDisposeScope();
    }
}
