using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

/// <summary>
/// Model FLOPs, counted as the usual "model FLOPs" (matrix products only, 2 per multiply–add; training = 3 × forward,
/// i.e. no recomputation counted; elementwise work, norms, softmax and the optimizer not counted). Causal attention
/// counts the T(T+1)/2 query–key pairs that are seen. Per layer and token: q, k, v, out projections
/// 2E(2E + 2E/n_rep), SwiGLU 6·E·FFN; per pair: 8·H·d = 4E for both architectures (baseline: 2H heads, QKᵀ and PV in
/// width d; DIFF: 2H sub-heads' QKᵀ in d plus H heads' (A1 − λA2)V in 2d); LM head 2·E·V per token.
/// </summary>
public static class FlopCount
{
    public static double Forward(ModelConfig c, long batch, long t)
    {
        double e = c.EmbedDim, f = c.FfnHidden, kv = e / c.NRep;
        double perTokenLayer = 2 * e * (2 * e + 2 * kv) + 6 * e * f;
        double attentionPerSeqLayer = 4 * e * (t * (t + 1) / 2.0);
        double head = 2 * e * c.VocabSize;
        return batch * (c.NumLayers * (t * perTokenLayer + attentionPerSeqLayer) + t * head);
    }

    public static double TrainingStep(ModelConfig c, long batch, long t) => 3 * Forward(c, batch, t);
}
