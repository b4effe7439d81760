using DiffTransformer.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

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
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
#pragma warning restore IDE1006

    public int EmbedDim { get; }
    /// <summary>Number of heads (2H when matched with a DIFF layer of H heads).</summary>
    public int NumHeads { get; }
    public int NumKvHeads { get; }
    public int NRep { get; }
    public int HeadDim { get; }
    public override int NumMaps => NumHeads;

    /// <param name="numHeads">heads of this module (pass 2H to match a DIFF layer of H heads).</param>
    /// <param name="numKvHeads">KV heads (2·Hkv to match); null for MHA.</param>
    public MultiheadAttention(int embedDim, int depth, int numHeads, int? numKvHeads = null,
        RotaryEmbedding? rotary = null, double ropeTheta = 10000.0)
        : base(nameof(MultiheadAttention), depth, rotary ?? new RotaryEmbedding(embedDim / numHeads, ropeTheta))
    {
        if (numHeads <= 0 || embedDim % numHeads != 0)
            throw new ConfigException($"embed_dim {embedDim} is not divisible by the number of heads {numHeads}");
        int kv = numKvHeads ?? numHeads;
        if (kv <= 0 || numHeads % kv != 0)
            throw new ConfigException($"heads {numHeads} is not divisible by kv heads {kv}");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        NumKvHeads = kv;
        NRep = numHeads / kv;
        HeadDim = embedDim / numHeads;
        if (Rotary.HeadDim != HeadDim) throw new ArgumentException($"rotary head dim {Rotary.HeadDim} differs from d = {HeadDim}");

        q_proj = nn.Linear(embedDim, embedDim, hasBias: false);
        k_proj = nn.Linear(embedDim, embedDim / NRep, hasBias: false);
        v_proj = nn.Linear(embedDim, embedDim / NRep, hasBias: false);
        out_proj = nn.Linear(embedDim, embedDim, hasBias: false);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null)
    {
        CheckCache(cache, startPos);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int nh = NumHeads, nkv = NumKvHeads, d = HeadDim;

        var q = q_proj.forward(x).view(b, t, nh, d);                    // (B, T, nh, d)
        var k = k_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        var v = v_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        q = Rotary.Apply(q, startPos);                                  // (B, T, nh, d)
        k = Rotary.Apply(k, startPos);                                  // (B, T, nkv, d)
        bool wantMaps = capture is not null && capture.Wants(Depth);

        if (UsesBlockedKernel(x, t, cache, wantMaps, d, d))
        {
            // The projections' (B, T, heads, d) layout is the kernel's: no transposes on either side.
            if (cache is not null)
            {
                var (kc, vc) = cache.Append(k.transpose(1, 2), v.transpose(1, 2)); // (B, nkv, S, d) each
                k = kc.transpose(1, 2);                                  // (B, S, nkv, d)
                v = vc.transpose(1, 2);                                  // (B, S, nkv, d)
            }
            var core = BlockedAttention.Standard(q, k, v);               // (B, T, nh, d)
            return out_proj.forward(core.reshape(b, t, nh * d)).MoveToOuterDisposeScope(); // (B, T, E)
        }

        q = q.transpose(1, 2);                                          // (B, nh, T, d)
        k = k.transpose(1, 2);                                          // (B, nkv, T, d)
        v = v.transpose(1, 2);                                          // (B, nkv, T, d)
        if (cache is not null) (k, v) = cache.Append(k, v);            // (B, nkv, S, d) each: cached prefix + new
        long s = k.shape[2];
        var blocked = cache?.Owner.Blocked(startPos, t, s, x.device);   // (B, 1, T, S) when rows are left-padded, else null

        Tensor attn;                                                    // (B, nh, T, d)
        if (Kernel == AttentionKernel.Explicit || wantMaps)
        {
            var kx = RepeatKv(k.unsqueeze(2), NRep);                    // (B, nh, S, d)
            var vx = RepeatKv(v.unsqueeze(2), NRep);                    // (B, nh, S, d)
            var logits = q.mul(1.0 / Math.Sqrt(d)).matmul(kx.transpose(-1, -2)); // (B, nh, T, S)
            var probs = MaskedSoftmax(logits, blocked);                  // (B, nh, T, S)
            attn = probs.matmul(vx);                                     // (B, nh, T, d)
            if (wantMaps)
                capture!.Record(Depth, Architecture.Transformer, MaskLogits(logits, blocked), probs, null, null);
        }
        else if (t == 1 && cache is not null)
        {
            // One query per row: the n_rep query heads of KV head g become n_rep rows against g's keys, so
            // nothing is copied; a single query sees every held position, so only padding needs a mask.
            var qg = q.reshape(b, nkv, NRep, d);                         // (B, nkv, n_rep, d)
            var o = blocked is null
                ? F.scaled_dot_product_attention(qg, k, v)                   // (B, nkv, n_rep, d)
                : F.scaled_dot_product_attention(qg, k, v, attn_mask: blocked.logical_not()); // mask (B, 1, 1, S)
            attn = o.reshape(b, nh, 1, d);                               // (B, nh, 1, d)
        }
        else
        {
            var kx = RepeatKv(k.unsqueeze(2), NRep);                    // (B, nh, S, d)
            var vx = RepeatKv(v.unsqueeze(2), NRep);                    // (B, nh, S, d)
            attn = Sdpa(q, kx, vx, blocked);                             // (B, nh, T, d)
        }

        attn = attn.transpose(1, 2).reshape(b, t, nh * d);             // (B, T, E)
        return out_proj.forward(attn).MoveToOuterDisposeScope();        // (B, T, E)
    }
}
