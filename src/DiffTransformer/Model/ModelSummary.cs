using System.Globalization;
using System.Text;

namespace DiffTransformer.Model;

/// <summary>The layer table and parameter counts of a configuration, computed without allocating weights.</summary>
public static class ModelSummary
{
    public static string Describe(ModelConfig c, string? title = null)
    {
        var inv = CultureInfo.InvariantCulture;
        string N(long v) => v.ToString("N0", inv);
        var sb = new StringBuilder();
        string arch = c.Arch switch { Architecture.Diff => "DIFF Transformer", Architecture.Diff2 => "DIFF Transformer V2", _ => "Transformer (baseline)" };
        sb.AppendLine($"{title ?? "model"}: {arch}");
        string heads = c.Arch switch
        {
            Architecture.Diff => $"H {c.NumHeads} DIFF heads of 2×{c.HeadDim} (baseline equivalent: {2 * c.NumHeads} heads)",
            Architecture.Diff2 => $"{2 * c.NumHeads} query heads of {c.HeadDim} in {c.NumHeads} pairs, {c.KvHeads} KV heads (SwiGLU widened by {c.V2FfnWidening} to match the baseline)",
            _ => $"{2 * c.NumHeads} heads of {c.HeadDim}",
        };
        sb.AppendLine($"  vocab_size {c.VocabSize}, embed_dim E {c.EmbedDim}, num_layers L {c.NumLayers}, {heads}");
        string kv = c.Arch == Architecture.Diff2 ? $"{2 * c.NumHeads / c.KvHeads} query heads per KV head"
                  : c.KvHeads == c.NumHeads ? "MHA" : $"GQA, {c.KvHeads} KV groups (n_rep {c.NRep})";
        sb.AppendLine($"  {kv}, head dim d {c.HeadDim}, ffn {c.FfnHidden}, max_seq_len {c.MaxSeqLen}, rope θ {c.RopeTheta.ToString(inv)}, " +
                      (c.TieEmbeddings ? "LM head tied to the embedding" : "untied LM head"));
        sb.AppendLine();
        const string row = "  {0,-36} {1,-16} {2,16}";
        sb.AppendLine(string.Format(inv, row, "parameter", "shape", "count"));
        sb.AppendLine("  " + new string('-', 70));
        var all = ParameterLayout.Model(c).ToList();
        string Shape(long[] s) => "[" + string.Join(", ", s) + "]";
        var embed = all[0];
        sb.AppendLine(string.Format(inv, row, embed.Key, Shape(embed.Shape), N(embed.Count)));
        var block = ParameterLayout.Block(c, 0).ToList();
        long blockCount = block.Sum(p => p.Count);
        string range = c.NumLayers == 1 ? "layers.0" : $"layers.{{0..{c.NumLayers - 1}}}";
        sb.AppendLine($"  {range}, each:");
        foreach (var p in block)
            sb.AppendLine(string.Format(inv, row, "  " + p.Key["layers.0.".Length..], Shape(p.Shape), N(p.Count)));
        sb.AppendLine(string.Format(inv, row, "  block total", "", N(blockCount)) + $"   × {c.NumLayers} = {N(blockCount * c.NumLayers)}");
        foreach (var p in all.Skip(1 + block.Count * c.NumLayers))
            sb.AppendLine(string.Format(inv, row, p.Key, Shape(p.Shape), N(p.Count)));
        if (c.TieEmbeddings) sb.AppendLine(string.Format(inv, row, "lm_head.weight", "(tied)", "0"));
        sb.AppendLine("  " + new string('-', 70));
        sb.AppendLine(string.Format(inv, row, "parameters (exact)", "", N(ParameterLayout.Count(c))));
        sb.AppendLine(string.Format(inv, row, "  embedding counted once", "", N(ParameterLayout.CountEmbeddingOnce(c))));
        sb.AppendLine(string.Format(inv, row, "  non-embedding", "", N(ParameterLayout.CountNonEmbedding(c))));
        sb.AppendLine(string.Format(inv, row, "float32 weights", "", $"{ParameterLayout.Count(c) * 4 / (1024.0 * 1024.0):F1} MiB"));
        if (c.Arch == Architecture.Diff)
        {
            sb.AppendLine();
            sb.Append("  λinit by layer:");
            for (int i = 0; i < c.NumLayers; i++) sb.Append(inv, $" {DifferentialAttention.LambdaInitFor(i):F4}");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
