using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Differential attention V2, the authors' 2026 design (../shared/docs/paper-notes.md §4), written from its formula:
/// <code>
///   Q = X Wq  (2h heads of width d),  K = X Wk,  V = X Wv  (h_kv heads of width d)
///   A_j = softmax(Q_j K_g(j)ᵀ/√d) V_g(j)        one ordinary attention over the 2h query heads, g(j) = j / n_rep
///   λ(x) = x Wλ                                   (E → h, no bias: one value per token and head)
///   O_i = A_2i − σ(λ_i(x))·A_2i+1                 (d wide)
///   out = Concat(O_1..O_h) Wo                     (h·d → E)
/// </code>
/// No per-head norm, no λinit and no (1 − λinit) factor. n_rep = 2h / h_kv must be even, so that the two query heads of
/// a pair read the same KV head. Because the attention itself is the ordinary one, every core of the baseline applies
/// unchanged (explicit, fused, blocked, decode) and so does its KV cache (h_kv heads of width d); only the pairing after
/// the core is new, and autograd differentiates it.
/// State dict: q_proj.weight [2hd, E], k_proj.weight [h_kv·d, E], v_proj.weight [h_kv·d, E], lambda_proj.weight [h, E],
/// out_proj.weight [E, h·d]. With d = E / 2h (the baseline's head width) and h_kv = h, the layer has 2.5·E² + h·E
/// parameters against the baseline's 4·E²: K, V and the output projection are half the baseline's.
/// </summary>
public sealed class DifferentialAttentionV2 : AttentionModule
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Projection q_proj;
    private readonly Projection k_proj;
    private readonly Projection v_proj;
    private readonly Projection lambda_proj;
    private readonly Projection out_proj;
#pragma warning restore IDE1006

    public int EmbedDim { get; }
    /// <summary>h: output heads (pairs of query heads).</summary>
    public int NumHeads { get; }
    /// <summary>h_kv: key/value heads of width d.</summary>
    public int NumKvHeads { get; }
    /// <summary>Query heads per KV head, 2h / h_kv (even).</summary>
    public int NRep { get; }
    /// <summary>d = E / 2h.</summary>
    public int HeadDim { get; }
    public override int NumMaps => 2 * NumHeads;

    /// <param name="numHeads">h: output heads; the layer attends with 2h query heads.</param>
    /// <param name="numKvHeads">h_kv; null: h (each pair its own KV head).</param>
    public DifferentialAttentionV2(int embedDim, int depth, int numHeads, int? numKvHeads = null,
        RotaryEmbedding? rotary = null, double ropeTheta = 10000.0, WeightFormat weights = WeightFormat.Float32)
        : base(nameof(DifferentialAttentionV2), depth, rotary ?? new RotaryEmbedding(embedDim / Math.Max(1, 2 * numHeads), ropeTheta))
    {
        if (numHeads <= 0 || embedDim % (2 * numHeads) != 0)
            throw new ConfigException($"embed_dim {embedDim} is not divisible by 2·num_heads = {2 * numHeads} (DIFF V2 attends with 2h query heads)");
        int kv = numKvHeads ?? numHeads;
        if (kv <= 0 || 2 * numHeads % kv != 0 || 2 * numHeads / kv % 2 != 0)
            throw new ConfigException($"num_kv_heads {kv} must divide num_heads {numHeads} (DIFF V2: the two query heads of a pair share a KV head)");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        NumKvHeads = kv;
        NRep = 2 * numHeads / kv;
        HeadDim = embedDim / (2 * numHeads);
        if (Rotary.HeadDim != HeadDim) throw new ArgumentException($"rotary head dim {Rotary.HeadDim} differs from d = {HeadDim}");

        int d = HeadDim;
        q_proj = new Projection(embedDim, 2 * numHeads * d, weights);
        k_proj = new Projection(embedDim, kv * d, weights);
        v_proj = new Projection(embedDim, kv * d, weights);
        lambda_proj = new Projection(embedDim, numHeads, weights);
        out_proj = new Projection(numHeads * d, embedDim, weights);
        RegisterComponents();
    }

    /// <summary>σ(λ(x)): the weight of each pair's second map, per token and head, (B, T, h).</summary>
    public Tensor LambdaOf(Tensor x) => lambda_proj.forward(x).sigmoid();

    public override Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null)
    {
        CheckCache(cache, startPos);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = NumHeads, nq = 2 * NumHeads, nkv = NumKvHeads, d = HeadDim;

        var q = q_proj.forward(x).view(b, t, nq, d);                    // (B, T, 2h, d)
        var k = k_proj.forward(x).view(b, t, nkv, d);                   // (B, T, h_kv, d)
        var v = v_proj.forward(x).view(b, t, nkv, d);                   // (B, T, h_kv, d)
        q = Rotary.Apply(q, startPos);                                  // (B, T, 2h, d)
        k = Rotary.Apply(k, startPos);                                  // (B, T, h_kv, d)
        bool wantMaps = capture is not null && capture.Wants(Depth);
        var lambda = LambdaOf(x);                                       // (B, T, h)

        Tensor heads;                                                   // (B, T, 2h, d): A_j for every query head
        if (UsesBlockedKernel(x, t, cache, wantMaps, d, d))
        {
            (k, v) = AppendProjected(cache, k, v);                       // (B, S, h_kv, d) each
            heads = StandardCore.Blocked(q, k, v);                       // (B, T, 2h, d)
        }
        else
        {
            q = q.transpose(1, 2);                                      // (B, 2h, T, d)
            k = k.transpose(1, 2);                                      // (B, h_kv, T, d)
            v = v.transpose(1, 2);                                      // (B, h_kv, T, d)
            if (cache is not null) (k, v) = cache.Append(k, v);        // (B, h_kv, S, d) each: cached prefix + new
            var hiddenMask = cache?.Owner.HiddenMask(startPos, t, k.shape[2], x.device); // (B, 1, T, S) when rows are left-padded
            Tensor core;                                                // (B, 2h, T, d)
            if (UsesExplicitCore(wantMaps))
            {
                var e = StandardCore.Explicit(q, k, v, hiddenMask, Quantization);
                if (wantMaps)
                {
                    // the pair's map A_2i − σ(λ_i(x))·A_2i+1, row by row (σ(λ) is per query position): (B, h, T, S)
                    var pairs = e.Probs.view(b, h, 2, t, e.Probs.shape[3]);
                    var differential = pairs.select(2, 0).sub(pairs.select(2, 1).mul(lambda.transpose(1, 2).unsqueeze(-1)));
                    capture!.Record(Depth, Architecture.Diff2, e.Logits, e.Probs, differential, null);
                }
                core = e.Output;
            }
            else if (t == 1 && cache is not null) core = StandardCore.Decode(q, k, v, hiddenMask);
            else core = StandardCore.Fused(q, k, v, hiddenMask);
            heads = core.transpose(1, 2);                               // (B, T, 2h, d)
        }
        return out_proj.forward(Pair(heads, lambda, b, t)).MoveToOuterDisposeScope();  // (B, T, E)
    }

    public override Tensor DecodeBatch(Tensor x, BatchKvCache cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        int nq = 2 * NumHeads, nkv = NumKvHeads, d = HeadDim;
        var (q, k, v, mask) = DecodeBatchInputs(q_proj.forward(x).view(b, 1, nq, d), k_proj.forward(x).view(b, 1, nkv, d),
                                                v_proj.forward(x).view(b, 1, nkv, d), cache);
        var core = StandardCore.Decode(q, k, v, mask);                  // (B, 2h, 1, d)
        return out_proj.forward(Pair(core.transpose(1, 2), LambdaOf(x), b, 1)).MoveToOuterDisposeScope(); // (B, 1, E)
    }

    /// <summary>O_i = A_2i − σ(λ_i)·A_2i+1 from the query heads' outputs (B, T, 2h, d) and σ(λ) (B, T, h); returns (B, T, h·d).</summary>
    private Tensor Pair(Tensor heads, Tensor lambda, long b, long t)
    {
        var pairs = heads.reshape(b, t, NumHeads, 2, HeadDim);          // (B, T, h, 2, d): query heads (2i, 2i+1)
        var first = pairs.select(3, 0);                                 // (B, T, h, d)
        var second = pairs.select(3, 1);                                // (B, T, h, d)
        var o = first.sub(second.mul(lambda.unsqueeze(-1)));           // (B, T, h, d)
        return o.reshape(b, t, NumHeads * HeadDim);                     // (B, T, h·d)
    }
}
