using DiffTransformer.Kernels;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Multi-head differential attention (V1), as the authors define it (microsoft/unilm, Diff-Transformer):
/// <code>
///   [Q1; Q2] = X Wq,  [K1; K2] = X Wk,  V = X Wv
///   λ = exp(λq1·λk1) − exp(λq2·λk2) + λinit,  λinit = 0.8 − 0.6·exp(−0.3·depth)
///   head_h = (1 − λinit) · RMSNorm( (softmax(Q1K1ᵀ/√d) − λ·softmax(Q2K2ᵀ/√d)) V )
///   out = Concat(head_1..head_H) Wo
/// </code>
/// H heads of two d-wide sub-heads (2h, 2h+1) and a 2d-wide value; GQA: head h reads KV group h / n_rep.
/// State dict (exactly the reference module's nine keys): q_proj.weight [E,E], k_proj.weight [E/n_rep,E],
/// v_proj.weight [E/n_rep,E], out_proj.weight [E,E], lambda_q1/k1/q2/k2 [d], subln.weight [2d].
/// </summary>
public sealed class DifferentialAttention : AttentionModule
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Projection q_proj;
    private readonly Projection k_proj;
    private readonly Projection v_proj;
    private readonly Projection out_proj;
    private readonly Parameter lambda_q1;
    private readonly Parameter lambda_k1;
    private readonly Parameter lambda_q2;
    private readonly Parameter lambda_k2;
    private readonly RMSNorm subln;
#pragma warning restore IDE1006

    public int EmbedDim { get; }
    /// <summary>H: DIFF heads.</summary>
    public int NumHeads { get; }
    /// <summary>Hkv: KV groups.</summary>
    public int NumKvHeads { get; }
    public int NRep { get; }
    /// <summary>d: width of one sub-head; a value head is 2d wide.</summary>
    public int HeadDim { get; }
    public double LambdaInit { get; }
    /// <summary>Epsilon of the per-head RMSNorm (subln).</summary>
    public double HeadNormEps => subln.Eps;
    public override int NumMaps => 2 * NumHeads;

    /// <summary>λinit = 0.8 − 0.6·exp(−0.3·depth).</summary>
    public static double LambdaInitFor(int depth) => 0.8 - 0.6 * Math.Exp(-0.3 * depth);

    /// <summary>
    /// N(0, 0.1²) of length <paramref name="n"/>, the λ vectors' init: what <c>torch.normal(0, 0.1, [n])</c> does (randn, ×0.1,
    /// +0.0 — which also turns −0.0 into +0.0), with Scalars that live through each call (TorchSharp's normal makes its own).
    /// </summary>
    internal static Tensor Normal(long n) => randn([n]).mul_(Scalars.Of(0.1)).add_(Scalars.Of(0.0), Scalars.Of(1));

    /// <param name="embedDim">E.</param>
    /// <param name="depth">layer index from 0.</param>
    /// <param name="numHeads">H, half the heads of the Transformer it is compared with.</param>
    /// <param name="numKvHeads">Hkv for GQA; null for MHA.</param>
    /// <param name="rotary">shared rotary tables; null builds one (θ = <paramref name="ropeTheta"/>).</param>
    /// <param name="headNormEps">epsilon of the per-head RMSNorm (subln): the authors' 1e-5 unless a config says otherwise.</param>
    public DifferentialAttention(int embedDim, int depth, int numHeads, int? numKvHeads = null,
        RotaryEmbedding? rotary = null, double ropeTheta = 10000.0, double headNormEps = ModelConfig.DefaultHeadNormEps,
        WeightFormat weights = WeightFormat.Float32)
        : base(nameof(DifferentialAttention), depth, rotary ?? new RotaryEmbedding(embedDim / numHeads / 2, ropeTheta))
    {
        var cfg = new ModelConfig { EmbedDim = embedDim, NumHeads = numHeads, NumKvHeads = numKvHeads, NumLayers = 1 }.Validate();
        EmbedDim = embedDim;
        NumHeads = numHeads;
        NumKvHeads = cfg.KvHeads;
        NRep = cfg.NRep;
        HeadDim = cfg.HeadDim;
        if (Rotary.HeadDim != HeadDim) throw new ArgumentException($"rotary head dim {Rotary.HeadDim} differs from d = {HeadDim}");
        LambdaInit = LambdaInitFor(depth);

        q_proj = new Projection(embedDim, embedDim, weights);
        k_proj = new Projection(embedDim, embedDim / NRep, weights);
        v_proj = new Projection(embedDim, embedDim / NRep, weights);
        out_proj = new Projection(embedDim, embedDim, weights);
        lambda_q1 = new Parameter(Normal(HeadDim));
        lambda_k1 = new Parameter(Normal(HeadDim));
        lambda_q2 = new Parameter(Normal(HeadDim));
        lambda_k2 = new Parameter(Normal(HeadDim));
        if (!(headNormEps > 0)) throw new ArgumentException($"head_norm_eps must be positive, got {headNormEps}");
        subln = new RMSNorm(2 * HeadDim, eps: headNormEps);
        RegisterComponents();
    }

    internal Projection QProj => q_proj;
    internal Projection KProj => k_proj;
    internal Projection VProj => v_proj;
    internal Projection OutProj => out_proj;

    /// <summary>λ as a 0-d tensor (in the graph): exp(λq1·λk1) − exp(λq2·λk2) + λinit, one scalar for all heads of the layer.</summary>
    public Tensor LambdaFull()
    {
        using var scope = NewDisposeScope();
        var l1 = lambda_q1.mul(lambda_k1).sum().to_type(ScalarType.Float32).exp();
        var l2 = lambda_q2.mul(lambda_k2).sum().to_type(ScalarType.Float32).exp();
        return l1.sub(l2).add(Scalars.Of(LambdaInit), Scalars.Of(1)).MoveToOuterDisposeScope();
    }

    public override Tensor Forward(Tensor x, long startPos = 0, AttentionCapture? capture = null, LayerKvCache? cache = null)
    {
        CheckCache(cache, startPos);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = NumHeads, hkv = NumKvHeads, d = HeadDim;

        var q = q_proj.forward(x).view(b, t, 2 * h, d);                 // (B, T, 2H, d)
        var k = k_proj.forward(x).view(b, t, 2 * hkv, d);               // (B, T, 2Hkv, d)
        var v = v_proj.forward(x).view(b, t, hkv, 2 * d);               // (B, T, Hkv, 2d)
        q = Rotary.Apply(q, startPos);                                  // (B, T, 2H, d)
        k = Rotary.Apply(k, startPos);                                  // (B, T, 2Hkv, d)
        var lambdaFull = LambdaFull().to_type(q.dtype);                 // ()
        bool wantMaps = capture is not null && capture.Wants(Depth);

        Tensor attn;                                                    // (B, T, E)
        if (UsesBlockedKernel(x, t, cache, wantMaps, d, 2 * d))
        {
            // The projections' (B, T, heads, width) layout is the kernel's: no transposes on either side.
            (k, v) = AppendProjected(cache, k, v);                       // (B, S, 2Hkv, d), (B, S, Hkv, 2d)
            var core = DifferentialCore.Blocked(q, k, v, lambdaFull);    // (B, T, H, 2d)
            attn = subln.forward(core).mul(Scalars.Of(1 - LambdaInit)).reshape(b, t, h * 2 * d);
        }
        else
        {
            q = q.transpose(1, 2);                                      // (B, 2H, T, d)
            k = k.transpose(1, 2);                                      // (B, 2Hkv, T, d)
            v = v.transpose(1, 2);                                      // (B, Hkv, T, 2d)
            if (cache is not null) (k, v) = cache.Append(k, v);        // (B, 2Hkv, S, d), (B, Hkv, S, 2d): cached prefix + new
            var hiddenMask = cache?.Owner.HiddenMask(startPos, t, k.shape[2], x.device); // (B, 1, T, S) when rows are left-padded, else null
            Tensor core;                                                // (B, H, T, 2d)
            if (UsesExplicitCore(wantMaps))
            {
                var e = DifferentialCore.Explicit(q, k, v, lambdaFull, hiddenMask, Quantization);
                if (wantMaps) capture!.Record(Depth, Architecture.Diff, e.Logits, e.Probs, e.Differential, lambdaFull.item<float>());
                core = e.Output;
            }
            else if (t == 1 && cache is not null) core = DifferentialCore.Decode(q, k, v, lambdaFull, hiddenMask);
            else core = DifferentialCore.Fused(q, k, v, lambdaFull, hiddenMask);
            core = subln.forward(core).mul(Scalars.Of(1 - LambdaInit)); // (B, H, T, 2d)
            attn = core.transpose(1, 2).reshape(b, t, h * 2 * d);       // (B, T, E)
        }
        return out_proj.forward(attn).MoveToOuterDisposeScope();        // (B, T, E)
    }

    public override Tensor DecodeBatch(Tensor x, BatchKvCache cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        int h = NumHeads, hkv = NumKvHeads, d = HeadDim;
        var (q, k, v, mask) = DecodeBatchInputs(q_proj.forward(x).view(b, 1, 2 * h, d), k_proj.forward(x).view(b, 1, 2 * hkv, d),
                                                v_proj.forward(x).view(b, 1, hkv, 2 * d), cache);
        var core = DifferentialCore.Decode(q, k, v, LambdaFull().to_type(x.dtype), mask); // (B, H, 1, 2d)
        core = subln.forward(core).mul(Scalars.Of(1 - LambdaInit));     // (B, H, 1, 2d)
        return out_proj.forward(core.transpose(1, 2).reshape(b, 1, h * 2 * d)).MoveToOuterDisposeScope(); // (B, 1, E)
    }
}
