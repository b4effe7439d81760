using static TorchSharp.torch;

namespace DiffTransformer.Interop;

/// <summary>
/// What the DiffLlama importer and exporter share (reference/DIFFLLAMA.md): the checkpoint's file names, its keys and
/// shapes in the order of Hugging Face's modules, and the row permutations between its attention layout and ours.
/// With N = num_attention_heads sub-heads of width d and K = num_key_value_heads,
/// <code>
///   σq(2j) = j, σq(2j+1) = j + N/2      our query sub-head s ← HF head σq(s)   (HF pairs head j with j + N/2)
///   σkv(2g) = g, σkv(2g+1) = g + K/2    our key sub-head / value half s ← HF KV head σkv(s)
///   ρ(2i) = i, ρ(2i+1) = i + d/2        our row m of a q or k head ← HF row ρ(m)   (rotate_half → interleaved)
/// </code>
/// All three are the same "interleave the two halves" map of a length; the exporter applies their inverses.
/// </summary>
internal static class DiffLlamaLayout
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string ModelType = "diffllama";
    public const string ArchitectureName = "DiffLlamaForCausalLM";

    public static readonly string[] LambdaNames = ["lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"];
    public static readonly string[] MlpNames = ["gate_proj", "up_proj", "down_proj"];

    /// <summary>The DiffLlama shape: N sub-heads of width D, K KV heads, hidden size E, intermediate size I, vocabulary V, L layers.</summary>
    public sealed record Shape(int E, int N, int K, int D, int I, int V, int L);

    /// <summary>
    /// Every key of the checkpoint with its shape, in the order <c>DiffLlamaForCausalLM.state_dict()</c> lists them
    /// (attention q, k, v, o, the λ vectors; MLP; the two block norms; the final norm; the head only when untied).
    /// </summary>
    public static List<(string Key, long[] Shape)> Keys(Shape s, bool tied)
    {
        long e = s.E, kd = (long)s.K * s.D, f = s.I;
        var keys = new List<(string, long[])> { ("model.embed_tokens.weight", [s.V, e]) };
        for (int i = 0; i < s.L; i++)
        {
            string p = $"model.layers.{i}.", a = p + "self_attn.";
            keys.Add((a + "q_proj.weight", [e, e]));
            keys.Add((a + "k_proj.weight", [kd, e]));
            keys.Add((a + "v_proj.weight", [kd, e]));
            keys.Add((a + "o_proj.weight", [e, e]));
            foreach (var n in LambdaNames) keys.Add((a + n, [s.D]));
            keys.Add((p + "mlp.gate_proj.weight", [f, e]));
            keys.Add((p + "mlp.up_proj.weight", [f, e]));
            keys.Add((p + "mlp.down_proj.weight", [e, f]));
            keys.Add((p + "input_layernorm.weight", [e]));
            keys.Add((p + "post_attention_layernorm.weight", [e]));
        }
        keys.Add(("model.norm.weight", [e]));
        if (!tied) keys.Add(("lm_head.weight", [s.V, e]));
        return keys;
    }

    /// <summary>σq: our sub-head 2j ← HF head j, 2j+1 ← HF head j + N/2.</summary>
    public static long[] QueryHeads(int n) => Interleave(n);

    /// <summary>σkv: our key sub-head (and value half) 2g ← HF KV head g, 2g+1 ← HF KV head g + K/2.</summary>
    public static long[] KvHeads(int k) => Interleave(k);

    /// <summary>ρ: our row 2i ← HF row i, 2i+1 ← HF row i + d/2, inside every d-wide head.</summary>
    public static long[] RotaryRows(int d) => Interleave(d);

    /// <summary>The inverse permutation: inverse[p[s]] = s.</summary>
    public static long[] Inverse(long[] p)
    {
        var inverse = new long[p.Length];
        for (int s = 0; s < p.Length; s++) inverse[p[s]] = s;
        return inverse;
    }

    /// <summary>[0, n/2, 1, n/2 + 1, …]: position s takes element s/2 of the first half (s even) or of the second (s odd).</summary>
    private static long[] Interleave(int n) => Enumerable.Range(0, n).Select(s => (long)(s / 2 + (s % 2) * (n / 2))).ToArray();

    /// <summary>
    /// w [heads·d, in] → its d-row head blocks in the order σ (block s of the result is block σ(s) of w), and inside
    /// each block the rows in the order ρ (none: unchanged). Columns (the input features) are never touched.
    /// </summary>
    public static Tensor PermuteRows(Tensor w, long[] sigma, int d, long[]? rho)
    {
        long cols = w.shape[1];
        var heads = w.view(-1, d, cols).index_select(0, tensor(sigma));          // (heads, d, in)
        if (rho is not null) heads = heads.index_select(1, tensor(rho));
        return heads.reshape(-1, cols).contiguous();                              // (heads·d, in)
    }
}
