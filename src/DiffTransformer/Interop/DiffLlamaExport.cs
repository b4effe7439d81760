using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Interop;

/// <summary>
/// Writes a DIFF V1 model of ours (arch <c>diff</c>) as a Hugging Face DiffLlama checkpoint that
/// <c>DiffLlamaForCausalLM.from_pretrained</c> loads unchanged: <c>config.json</c> (DiffLlamaConfig's fields, keys
/// sorted as save_pretrained writes them), <c>model.safetensors</c> or, above the shard limit, shards
/// <c>model-0000i-of-0000n.safetensors</c> with <c>model.safetensors.index.json</c>; every file's metadata
/// <c>{"format": "pt"}</c>. The mapping is the inverse of <see cref="DiffLlamaImport"/>'s (reference/DIFFLLAMA.md):
/// <code>
///   hf.q_proj[t, u] = q_proj[σq⁻¹(t), ρ⁻¹(u)]      hf.k_proj[t, u] = k_proj[σkv⁻¹(t), ρ⁻¹(u)]      hf.v_proj[t, u] = v_proj[σkv⁻¹(t), u]
///   hf.o_proj[:, 2d·j + m] = out_proj[:, 2d·j + m] · subln.weight[m]     for every pair j  (HF's per-pair norm has no weight)
/// </code>
/// The fold is exact in real arithmetic — the norm's output goes straight into out_proj, so out_proj·(w ⊙ n) =
/// (out_proj·diag w)·n — and changes only float rounding; a subln of ones (never trained, or imported) exports the
/// projection bit for bit. What cannot be exported is refused before anything is written: another architecture
/// (the baseline is a Llama and DIFF V2 has no Hugging Face class; neither is implemented), and a per-head norm eps
/// that differs from the block norms' (DiffLlama has one rms_norm_eps for both).
/// </summary>
public static class DiffLlamaExport
{
    /// <summary>Hugging Face's default shard limit (save_pretrained's max_shard_size "5GB" = 5·10⁹ bytes).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>The dtypes a checkpoint can be written in (torch_dtype's names).</summary>
    public static IReadOnlyList<string> DTypes { get; } = ["float32", "bfloat16", "float16"];

    /// <summary>
    /// The DiffLlama config.json (a JSON object, keys sorted) and state dict (keys in the order of HF's modules; float32
    /// tensors the caller owns) for our <paramref name="config"/> and <paramref name="state"/> (keys of
    /// <see cref="ParameterLayout.Model"/>). <paramref name="endOfText"/>: the tokenizer's end-of-text id, written as
    /// bos_token_id and eos_token_id (null: both null).
    /// </summary>
    public static (JsonObject Config, List<KeyValuePair<string, Tensor>> State) Build(ModelConfig config, IReadOnlyDictionary<string, Tensor> state,
                                                                                  int? endOfText = null, string torchDtype = "float32")
    {
        CheckExportable(config, "the model");
        CheckState(config, state);
        int h = config.NumHeads, d = config.HeadDim, e = config.EmbedDim;
        var shape = new DiffLlamaLayout.Shape(e, 2 * h, 2 * config.KvHeads, d, config.FfnHidden, config.VocabSize, config.NumLayers);
        var (qInv, kvInv, rhoInv) = (DiffLlamaLayout.Inverse(DiffLlamaLayout.QueryHeads(shape.N)),
                                     DiffLlamaLayout.Inverse(DiffLlamaLayout.KvHeads(shape.K)),
                                     DiffLlamaLayout.Inverse(DiffLlamaLayout.RotaryRows(d)));

        using var scope = NewDisposeScope();
        var hf = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Tensor Ours(string key) => state[key].detach().to(CPU).to_type(ScalarType.Float32);
        hf["model.embed_tokens.weight"] = Ours("embed_tokens.weight").clone();
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"model.layers.{i}.", a = p + "self_attn.", o = $"layers.{i}.";
            hf[a + "q_proj.weight"] = DiffLlamaLayout.PermuteRows(Ours(o + "attn.q_proj.weight"), qInv, d, rhoInv);    // (N·d, E)
            hf[a + "k_proj.weight"] = DiffLlamaLayout.PermuteRows(Ours(o + "attn.k_proj.weight"), kvInv, d, rhoInv);   // (K·d, E)
            hf[a + "v_proj.weight"] = DiffLlamaLayout.PermuteRows(Ours(o + "attn.v_proj.weight"), kvInv, d, rho: null); // (K·d, E)
            var subln = Ours(o + "attn.subln.weight");                                                                  // (2d)
            hf[a + "o_proj.weight"] = Ours(o + "attn.out_proj.weight").view(e, h, 2 * d).mul(subln)                       // (E, H, 2d) · w[m]
                                                                    .reshape(e, e).contiguous();                       // (E, E)
            foreach (var n in DiffLlamaLayout.LambdaNames) hf[a + n] = Ours(o + "attn." + n).clone();
            foreach (var n in DiffLlamaLayout.MlpNames) hf[p + "mlp." + n + ".weight"] = Ours(o + "ffn." + n + ".weight").clone();
            hf[p + "input_layernorm.weight"] = Ours(o + "attn_norm.weight").clone();
            hf[p + "post_attention_layernorm.weight"] = Ours(o + "ffn_norm.weight").clone();
        }
        hf["model.norm.weight"] = Ours("norm.weight").clone();
        if (!config.TieEmbeddings) hf["lm_head.weight"] = Ours("lm_head.weight").clone();

        var keys = DiffLlamaLayout.Keys(shape, config.TieEmbeddings);
        var ordered = new List<KeyValuePair<string, Tensor>>(keys.Count);
        foreach (var (key, expected) in keys)
        {
            var t = hf[key];
            if (!t.shape.SequenceEqual(expected))
                throw new InvalidOperationException($"DiffLlamaExport built '{key}' of shape [{string.Join(", ", t.shape)}], the DiffLlama layout says [{string.Join(", ", expected)}]");
            ordered.Add(new(key, t.MoveToOuterDisposeScope()));
        }
        if (ordered.Count != hf.Count) throw new InvalidOperationException("DiffLlamaExport built keys the DiffLlama layout does not list");
        return (HfConfig(config, shape, endOfText, torchDtype), ordered);
    }

    /// <summary>
    /// Exports the model at <paramref name="modelPath"/> (a model directory, its weights file, or a completed run
    /// directory) into <paramref name="outDir"/>, which must not exist or be empty; the directory appears whole or not at
    /// all. Tensors are written in <paramref name="dtype"/> (<see cref="DTypes"/>; bfloat16 and float16 round) and split
    /// into shards of at most <paramref name="maxShardBytes"/> bytes of tensor data (a larger tensor gets a shard of its
    /// own), as save_pretrained does. The tokenizer the model names is written as <c>tokenizer.json</c> when
    /// <see cref="HfTokenizerJson"/> can express it; the notes say what was and was not written.
    /// </summary>
    public static DiffLlamaExportResult Export(string modelPath, string outDir, long maxShardBytes = DefaultMaxShardBytes, string dtype = "float32")
    {
        if (maxShardBytes <= 0) throw new ArgumentException($"the shard limit must be positive, got {maxShardBytes} bytes");
        var storeAs = dtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            "float16" => ScalarType.Float16,
            _ => throw new ArgumentException($"dtype \"{dtype}\" is not one of {string.Join(", ", DTypes)}"),
        };
        AtomicDirectory.RequireNewOrEmpty(outDir, "export");
        string resolved = ModelStore.ResolveModelPath(modelPath);
        var config = ModelStore.LoadConfig(resolved);
        CheckExportable(config, resolved);
        var tokenizer = ModelTokenizer.Load(resolved);

        var notes = new List<string>();
        string tmp = AtomicDirectory.CreateTempSibling(outDir, "export");
        List<KeyValuePair<string, Tensor>>? state = null;
        try
        {
            JsonObject hfConfig;
            using (var model = ModelStore.Load(resolved))
            {
                var ours = model.state_dict();
                (hfConfig, state) = Build(config, ours, tokenizer?.EndOfText, dtype);
            }
            if (storeAs != ScalarType.Float32)
                for (int i = 0; i < state.Count; i++)
                {
                    var rounded = state[i].Value.to_type(storeAs);
                    state[i].Value.Dispose();
                    state[i] = new(state[i].Key, rounded);
                }
            var files = WriteShards(tmp, state, maxShardBytes);
            File.WriteAllText(Path.Combine(tmp, DiffLlamaLayout.ConfigFile), hfConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            files.Insert(0, DiffLlamaLayout.ConfigFile);
            if (tokenizer is not null && HfTokenizerJson.CanWrite(tokenizer))
            {
                HfTokenizerJson.Write(tokenizer, Path.Combine(tmp, HfTokenizerJson.FileName));
                files.Add(HfTokenizerJson.FileName);
            }
            else
                notes.Add(tokenizer is null
                    ? $"{resolved} names no tokenizer: {outDir} has none, and bos_token_id / eos_token_id are null"
                    : $"the tokenizer \"{tokenizer.Name}\" cannot be written as a Hugging Face tokenizer.json; {outDir} has none (eos_token_id {tokenizer.EndOfText})");
            if (storeAs != ScalarType.Float32) notes.Add($"weights rounded to {dtype}: logits differ from the float32 model's by the rounding");
            AtomicDirectory.MoveIntoPlace(tmp, outDir);
            long total = state.Sum(kv => kv.Value.numel() * kv.Value.ElementSize);
            return new DiffLlamaExportResult(config, files, total, notes);
        }
        catch
        {
            AtomicDirectory.TryDelete(tmp);
            throw;
        }
        finally
        {
            if (state is not null) foreach (var kv in state) kv.Value.Dispose();
        }
    }

    /// <summary>Only DIFF V1 with one eps for every norm maps onto DiffLlama; the message names <paramref name="what"/> and the field.</summary>
    public static void CheckExportable(ModelConfig config, string what)
    {
        if (config.Arch != Architecture.Diff)
            throw new ConfigException($"{what}: arch {ArchitectureNames.Name(config.Arch)} cannot be exported to DiffLlama, which is the DIFF V1 layout (arch diff); " +
                                      "exporting the baseline as a Llama, or DIFF V2 (no Hugging Face class), is not implemented");
        if (config.LinearWeights != WeightFormat.Float32)
            throw new ConfigException($"{what}: its linear weights are {config.Weights.ToString()!.ToLowerInvariant()}; export the float32 model it was quantised from (DiffLlama checkpoints hold float weights)");
        if (config.SublnEps != config.NormEps)
            throw new ConfigException($"{what}: head_norm_eps {Num(config.SublnEps)} differs from norm_eps {Num(config.NormEps)}; DiffLlama's per-pair norm uses rms_norm_eps, one eps for every norm, so the export would not be exact");
    }

    private static void CheckState(ModelConfig config, IReadOnlyDictionary<string, Tensor> state)
    {
        foreach (var p in ParameterLayout.Model(config))
        {
            if (!state.TryGetValue(p.Key, out var t)) throw new ArgumentException($"the state dict has no '{p.Key}', which arch diff needs");
            if (!t.shape.SequenceEqual(p.Shape))
                throw new ArgumentException($"the state dict's '{p.Key}' has shape [{string.Join(", ", t.shape)}], the configuration implies [{string.Join(", ", p.Shape)}]");
        }
    }

    /// <summary>DiffLlamaConfig's fields as save_pretrained writes them (sorted keys).</summary>
    private static JsonObject HfConfig(ModelConfig c, DiffLlamaLayout.Shape s, int? endOfText, string torchDtype)
    {
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["architectures"] = new JsonArray(DiffLlamaLayout.ArchitectureName),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = endOfText,
            ["eos_token_id"] = endOfText,
            ["head_dim"] = s.D,
            ["hidden_act"] = "silu",
            ["hidden_size"] = s.E,
            ["initializer_range"] = c.InitStd,
            ["intermediate_size"] = s.I,
            ["lambda_std_dev"] = 0.1,
            ["max_position_embeddings"] = c.MaxSeqLen,
            ["model_type"] = DiffLlamaLayout.ModelType,
            ["num_attention_heads"] = s.N,
            ["num_hidden_layers"] = s.L,
            ["num_key_value_heads"] = s.K,
            ["rms_norm_eps"] = c.NormEps,
            ["rope_scaling"] = null,
            ["rope_theta"] = c.RopeTheta,
            ["tie_word_embeddings"] = c.TieEmbeddings,
            ["torch_dtype"] = torchDtype,
            ["use_cache"] = true,
            ["vocab_size"] = s.V,
        };
        var o = new JsonObject();
        foreach (var (k, v) in fields) o[k] = v;
        return o;
    }

    /// <summary>
    /// save_pretrained's split: tensors in order, a new shard when the next tensor would take the current one past the
    /// limit (a tensor above the limit alone in its shard); one shard is model.safetensors without an index. Returns
    /// the file names written.
    /// </summary>
    private static List<string> WriteShards(string dir, List<KeyValuePair<string, Tensor>> state, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long current = 0;
        foreach (var kv in state)
        {
            long bytes = kv.Value.numel() * kv.Value.ElementSize;
            if (shards[^1].Count > 0 && current + bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(kv);
            current += bytes;
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (shards.Count == 1)
        {
            SafeTensorsFile.Save(Path.Combine(dir, DiffLlamaLayout.WeightsFile), state, metadata);
            return [DiffLlamaLayout.WeightsFile];
        }
        var names = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            SafeTensorsFile.Save(Path.Combine(dir, name), shards[i], metadata);
            foreach (var kv in shards[i]) weightMap[kv.Key] = name;
            names.Add(name);
        }
        var map = new JsonObject();
        foreach (var (k, v) in weightMap) map[k] = v;
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = state.Sum(kv => kv.Value.numel() * kv.Value.ElementSize) },
            ["weight_map"] = map,
        };
        File.WriteAllText(Path.Combine(dir, DiffLlamaLayout.IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        names.Add(DiffLlamaLayout.IndexFile);
        return names;
    }

    private static string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}
