using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// The baseline: ordinary causal multi-head attention with rotary embedding, the authors'
/// <c>MultiheadAttention</c>. Compared with a DIFF layer of H heads it has 2H heads of the same width
/// d = E / 2H, so the two have equal projection parameters. GQA: head j reads KV head j / n_rep.
/// State dict: q_proj.weight [E,E], k_proj.weight [E/n_rep,E], v_proj.weight [E/n_rep,E], out_proj.weight [E,E].
/// </summary>
public sealed class MultiheadAttention : AttentionModule
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Projection q_proj;
    private readonly Projection k_proj;
    private readonly Projection v_proj;
    private readonly Projection out_proj;
#pragma warning restore IDE1006

    public int EmbedDim { get; }
    /// <summary>Heads of this module: 2H when matched with a DIFF layer of H heads (Hugging Face's num_attention_heads).</summary>
    public int NumAttentionHeads { get; }
    /// <summary>KV heads: 2·Hkv when matched (num_key_value_heads).</summary>
    public int NumKeyValueHeads { get; }
    public int NRep { get; }
    public int HeadDim { get; }
    public override int NumMaps => NumAttentionHeads;

    /// <param name="numAttentionHeads">heads of this module (pass 2H to match a DIFF layer of H heads).</param>
    /// <param name="numKeyValueHeads">KV heads (2·Hkv to match); null for MHA.</param>
    public MultiheadAttention(int embedDim, int depth, int numAttentionHeads, int? numKeyValueHeads = null,
        RotaryEmbedding? rotary = null, double ropeTheta = 10000.0, WeightFormat weights = WeightFormat.Float32)
        : base(nameof(MultiheadAttention), depth, rotary ?? new RotaryEmbedding(embedDim / numAttentionHeads, ropeTheta))
    {
        if (numAttentionHeads <= 0 || embedDim % numAttentionHeads != 0)
            throw new ConfigException($"embed_dim {embedDim} is not divisible by the number of heads {numAttentionHeads}");
        int kv = numKeyValueHeads ?? numAttentionHeads;
        if (kv <= 0 || numAttentionHeads % kv != 0)
            throw new ConfigException($"heads {numAttentionHeads} is not divisible by kv heads {kv}");
        EmbedDim = embedDim;
        NumAttentionHeads = numAttentionHeads;
        NumKeyValueHeads = kv;
        NRep = numAttentionHeads / kv;
        HeadDim = embedDim / numAttentionHeads;
        if (Rotary.HeadDim != HeadDim) throw new ArgumentException($"rotary head dim {Rotary.HeadDim} differs from d = {HeadDim}");

        q_proj = new Projection(embedDim, embedDim, weights);
        k_proj = new Projection(embedDim, embedDim / NRep, weights);
        v_proj = new Projection(embedDim, embedDim / NRep, weights);
        out_proj = new Projection(embedDim, embedDim, weights);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null)
    {
        CheckCache(cache, startPos);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int nh = NumAttentionHeads, nkv = NumKeyValueHeads, d = HeadDim;

        var q = q_proj.forward(x).view(b, t, nh, d);                    // (B, T, nh, d)
        var k = k_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        var v = v_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        q = Rotary.Apply(q, startPos);                                  // (B, T, nh, d)
        k = Rotary.Apply(k, startPos);                                  // (B, T, nkv, d)
        bool wantMaps = capture is not null && capture.Wants(Depth);

        Tensor attn;                                                    // (B, T, E)
        if (UsesBlockedKernel(x, t, cache, wantMaps, d, d))
        {
            // The projections' (B, T, heads, d) layout is the kernel's: no transposes on either side.
            (k, v) = AppendProjected(cache, k, v);                       // (B, S, nkv, d) each
            attn = StandardCore.Blocked(q, k, v).reshape(b, t, nh * d);  // (B, T, nh, d) → (B, T, E)
        }
        else
        {
            q = q.transpose(1, 2);                                      // (B, nh, T, d)
            k = k.transpose(1, 2);                                      // (B, nkv, T, d)
            v = v.transpose(1, 2);                                      // (B, nkv, T, d)
            if (cache is not null) (k, v) = cache.Append(k, v);        // (B, nkv, S, d) each: cached prefix + new
            var hiddenMask = cache?.Owner.HiddenMask(startPos, t, k.shape[2], x.device); // (B, 1, T, S) when rows are left-padded, else null
            Tensor core;                                                // (B, nh, T, d)
            if (UsesExplicitCore(wantMaps))
            {
                var e = StandardCore.Explicit(q, k, v, hiddenMask, Quantization);
                if (wantMaps) capture!.Record(Depth, Architecture.Transformer, e.Logits, e.Probs, null, null);
                core = e.Output;
            }
            else if (t == 1 && cache is not null) core = StandardCore.Decode(q, k, v, hiddenMask);
            else core = StandardCore.Fused(q, k, v, hiddenMask);
            attn = core.transpose(1, 2).reshape(b, t, nh * d);         // (B, T, E)
        }
        return out_proj.forward(attn).MoveToOuterDisposeScope();        // (B, T, E)
    }

    public override Tensor DecodeBatch(Tensor x, BatchKvCache cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        int nh = NumAttentionHeads, nkv = NumKeyValueHeads, d = HeadDim;
        var (q, k, v, mask) = DecodeBatchInputs(q_proj.forward(x).view(b, 1, nh, d), k_proj.forward(x).view(b, 1, nkv, d),
                                                v_proj.forward(x).view(b, 1, nkv, d), cache);
        var core = StandardCore.Decode(q, k, v, mask);                  // (B, nh, 1, d)
        return out_proj.forward(core.transpose(1, 2).reshape(b, 1, nh * d)).MoveToOuterDisposeScope(); // (B, 1, E)
    }
}
