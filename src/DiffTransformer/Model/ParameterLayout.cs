namespace DiffTransformer.Model;

/// <summary>
/// The model's state-dict keys and shapes computed arithmetically from a <see cref="ModelConfig"/>,
/// without allocating weights: what <c>info</c> prints for the 13B preset in milliseconds.
/// A test proves it equal to the keys and shapes of a constructed model.
/// </summary>
public static class ParameterLayout
{
    /// <summary>Keys of one attention module (the authors' names), relative to the module.</summary>
    public static IEnumerable<ParameterEntry> Attention(ModelConfig c)
    {
        long e = c.EmbedDim, kv = c.EmbedDim / c.NRep, d = c.HeadDim;
        if (c.Arch == Architecture.Diff2)
        {
            long h = c.NumHeads;                                  // 2h query heads of width d; h_kv KV heads of width d
            yield return new("q_proj.weight", [2 * h * d, e]);
            yield return new("k_proj.weight", [c.KvHeads * d, e]);
            yield return new("v_proj.weight", [c.KvHeads * d, e]);
            yield return new("lambda_proj.weight", [h, e]);
            yield return new("out_proj.weight", [e, h * d]);
            yield break;
        }
        // A module's own parameters come before its submodules' (PyTorch's and TorchSharp's order).
        if (c.Arch == Architecture.Diff)
        {
            yield return new("lambda_q1", [d]);
            yield return new("lambda_k1", [d]);
            yield return new("lambda_q2", [d]);
            yield return new("lambda_k2", [d]);
        }
        yield return new("q_proj.weight", [e, e]);
        yield return new("k_proj.weight", [kv, e]);
        yield return new("v_proj.weight", [kv, e]);
        yield return new("out_proj.weight", [e, e]);
        if (c.Arch == Architecture.Diff) yield return new("subln.weight", [2 * d]);
    }

    /// <summary>Keys of decoder block <paramref name="layer"/>, with their full prefix.</summary>
    public static IEnumerable<ParameterEntry> Block(ModelConfig c, int layer)
    {
        long e = c.EmbedDim, f = c.FfnHidden;
        string p = $"layers.{layer}.";
        yield return new(p + "attn_norm.weight", [e]);
        foreach (var a in Attention(c)) yield return a with { Key = p + "attn." + a.Key };
        yield return new(p + "ffn_norm.weight", [e]);
        yield return new(p + "ffn.gate_proj.weight", [f, e]);
        yield return new(p + "ffn.up_proj.weight", [f, e]);
        yield return new(p + "ffn.down_proj.weight", [e, f]);
    }

    /// <summary>Every key of the whole model in registration order.</summary>
    public static IEnumerable<ParameterEntry> Model(ModelConfig c)
    {
        yield return new("embed_tokens.weight", [c.VocabSize, c.EmbedDim]);
        for (int i = 0; i < c.NumLayers; i++)
            foreach (var p in Block(c, i)) yield return p;
        yield return new("norm.weight", [c.EmbedDim]);
        if (!c.TieEmbeddings) yield return new("lm_head.weight", [c.VocabSize, c.EmbedDim]);
    }

    /// <summary>Exact number of trainable parameters (a tied head is counted once, because it is stored once).</summary>
    public static long Count(ModelConfig c) => Model(c).Sum(p => p.Count);

    /// <summary>Parameters with the token embedding counted once, whether or not the head is tied (the paper's convention).</summary>
    public static long CountEmbeddingOnce(ModelConfig c) =>
        Count(c) - (c.TieEmbeddings ? 0 : (long)c.VocabSize * c.EmbedDim);

    /// <summary>Parameters outside the embedding and the LM head.</summary>
    public static long CountNonEmbedding(ModelConfig c) =>
        Count(c) - (long)c.VocabSize * c.EmbedDim * (c.TieEmbeddings ? 1 : 2);
}
