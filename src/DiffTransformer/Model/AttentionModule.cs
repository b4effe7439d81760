using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>How the attention core is computed; both give the same numbers (tested to 1e-5 in float32).</summary>
public enum AttentionKernel
{
    /// <summary>Materialises the T×S logits and softmax maps; the only path that can hand them to a caller.</summary>
    Explicit,
    /// <summary>libtorch's scaled_dot_product_attention: never builds a T×T map.</summary>
    Fused,
}

/// <summary>
/// Common shape of the DIFF and baseline attention modules, so that a decoder block holds either.
/// Input and output are (B, T, E); <c>startPos</c> is the position of the first token (rotary offset).
/// </summary>
public abstract class AttentionModule : nn.Module<Tensor, Tensor>
{
    protected AttentionModule(string name, int depth, RotaryEmbedding rotary) : base(name)
    {
        Depth = depth;
        Rotary = rotary;
    }

    /// <summary>Layer index counted from 0 (DIFF's λinit depends on it).</summary>
    public int Depth { get; }

    /// <summary>Shared rotary tables (not part of the state dict).</summary>
    public RotaryEmbedding Rotary { get; }

    /// <summary>Explicit or fused core. A forward that is asked for maps always runs the explicit core.</summary>
    public AttentionKernel Kernel { get; set; } = AttentionKernel.Fused;

    /// <summary>Number of softmax maps per token row: 2H for both architectures.</summary>
    public abstract int NumMaps { get; }

    public override Tensor forward(Tensor x) => Forward(x);

    /// <summary>
    /// Causal self-attention over x: (B, T, E) → (B, T, E).
    /// When <paramref name="capture"/> is given, the explicit core runs and records this layer's maps.
    /// </summary>
    public abstract Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null);

    /// <summary>Causal softmax of (…, T, S) logits in float32 (query t sees keys ≤ S − T + t), returned in the logits' dtype.</summary>
    protected static Tensor CausalSoftmax(Tensor logits)
    {
        using var scope = NewDisposeScope();
        long t = logits.shape[^2], s = logits.shape[^1];
        var masked = logits.masked_fill(FutureMask(t, s, logits.device), float.NegativeInfinity);
        var probs = masked.softmax(-1, ScalarType.Float32).to_type(logits.dtype);
        return probs.MoveToOuterDisposeScope();
    }

    /// <summary>(T, S) boolean mask, true where query t (at position S − T + t) would see a future key.</summary>
    protected static Tensor FutureMask(long t, long s, Device device) =>
        ones(t, s, dtype: ScalarType.Bool, device: device).triu(1 + (s - t));

    /// <summary>
    /// Repeats KV heads for grouped-query attention: (B, Hkv, G, S, w) → (B, Hkv·nRep·G, S, w), so that
    /// query head h reads KV group h / nRep (the flash files' pairing). G groups sub-heads that travel together.
    /// </summary>
    protected static Tensor RepeatKv(Tensor kv, long nRep)
    {
        long b = kv.shape[0], hkv = kv.shape[1], g = kv.shape[2], s = kv.shape[3], w = kv.shape[4];
        if (nRep == 1) return kv.reshape(b, hkv * g, s, w);
        return kv.unsqueeze(2).expand(b, hkv, nRep, g, s, w).reshape(b, hkv * nRep * g, s, w);
    }
}
