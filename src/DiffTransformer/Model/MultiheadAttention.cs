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

    public override Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int nh = NumHeads, nkv = NumKvHeads, d = HeadDim;

        var q = q_proj.forward(x).view(b, t, nh, d);                    // (B, T, nh, d)
        var k = k_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        var v = v_proj.forward(x).view(b, t, nkv, d);                   // (B, T, nkv, d)
        q = Rotary.Apply(q, startPos).transpose(1, 2);                  // (B, nh, T, d)
        k = Rotary.Apply(k, startPos).transpose(1, 2);                  // (B, nkv, S, d)
        v = v.transpose(1, 2);                                          // (B, nkv, S, d)
        long s = k.shape[2];
        var kx = RepeatKv(k.unsqueeze(2), NRep);                        // (B, nh, S, d)
        var vx = RepeatKv(v.unsqueeze(2), NRep);                        // (B, nh, S, d)

        Tensor attn;                                                    // (B, nh, T, d)
        bool wantMaps = capture is not null && capture.Wants(Depth);
        if (Kernel == AttentionKernel.Explicit || wantMaps)
        {
            var logits = q.mul(1.0 / Math.Sqrt(d)).matmul(kx.transpose(-1, -2)); // (B, nh, T, S)
            var probs = CausalSoftmax(logits);                           // (B, nh, T, S)
            attn = probs.matmul(vx);                                     // (B, nh, T, d)
            if (wantMaps)
            {
                var masked = logits.masked_fill(FutureMask(t, s, x.device), float.NegativeInfinity);
                capture!.Record(Depth, Architecture.Transformer, masked, probs, null, null);
            }
        }
        else
        {
            attn = F.scaled_dot_product_attention(q, kx, vx, is_casual: t > 1); // (B, nh, T, d)
        }

        attn = attn.transpose(1, 2).reshape(b, t, nh * d);             // (B, T, E)
        return out_proj.forward(attn).MoveToOuterDisposeScope();        // (B, T, E)
    }
}
