using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Interop;

/// <summary>
/// Imports a Hugging Face DiffLlama checkpoint (<c>model_type: "diffllama"</c>, <c>DiffLlamaForCausalLM</c>): a
/// directory with <c>config.json</c> and <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c>; F32, BF16 or F16 (converted to float32 exactly). The mapping is
/// reference/DIFFLLAMA.md's, exact: with N = num_attention_heads sub-heads of width d, K = num_key_value_heads,
/// P = N/2, and ρ = [0, d/2, 1, d/2+1, …] (rotate_half's pairs (i, i+d/2) → our interleaved (2i, 2i+1)),
/// <code>
///   q_proj[s, m] = hf.q_proj[σq(s), ρ(m)]    σq(2j) = j, σq(2j+1) = j+P         (HF pairs head j with j+P)
///   k_proj[s, m] = hf.k_proj[σkv(s), ρ(m)]   σkv(2g) = g, σkv(2g+1) = g+K/2     (our Hkv = K/2 groups)
///   v_proj[s, m] = hf.v_proj[σkv(s), m]      (values are not rotated)
///   out_proj = o_proj, λ vectors unchanged, subln.weight = ones (HF's per-pair norm has no weight)
/// </code>
/// and the rest renamed (docs/ARCHITECTURE.md's keys). Our config: num_heads N/2, num_kv_heads K/2, and head_norm_eps =
/// rms_norm_eps, the eps HF's per-pair norm uses. Refused, each naming the file and the field or key: another
/// model_type or architecture, a missing field, odd N or K, head_dim·N ≠ hidden_size, attention or MLP biases, an
/// activation other than silu, rope scaling; a missing shard, a key missing from the checkpoint or from the shard the
/// index names, an unexpected key, a shape or dtype that does not fit. Everything is checked before a tensor is read.
/// A byte-level BPE tokenizer.json comes along (<see cref="Import"/>).
/// </summary>
public static class DiffLlamaImport
{
    public const string ConfigFile = DiffLlamaLayout.ConfigFile;
    public const string WeightsFile = DiffLlamaLayout.WeightsFile;
    public const string IndexFile = DiffLlamaLayout.IndexFile;

    /// <summary>Other Hugging Face tokenizer files, whose presence without a tokenizer.json <see cref="Import"/> reports.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } = ["tokenizer.model", "vocab.json", "merges.txt"];

    private static readonly string[] StoredTypes = ["F32", "BF16", "F16"];

    /// <summary>
    /// Our configuration and state dict (float32 CPU tensors, keys and order of <see cref="ParameterLayout.Model"/>;
    /// the caller owns them) for the checkpoint in <paramref name="hfDir"/>.
    /// </summary>
    public static (ModelConfig Config, Dictionary<string, Tensor> State) Load(string hfDir)
    {
        if (!Directory.Exists(hfDir)) throw new DirectoryNotFoundException($"no Hugging Face checkpoint at {hfDir}: no such directory");
        var (config, hf) = ReadConfig(Path.Combine(hfDir, ConfigFile));
        using var checkpoint = Checkpoint.Open(hfDir);
        var expected = DiffLlamaLayout.Keys(hf, config.TieEmbeddings);
        checkpoint.Check(expected, tiedHead: config.TieEmbeddings ? "lm_head.weight" : null);

        using var scope = NewDisposeScope();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Tensor Get(string key) => checkpoint.ReadFloat32(key);
        var (sigmaQ, sigmaKv, rho) = (DiffLlamaLayout.QueryHeads(hf.N), DiffLlamaLayout.KvHeads(hf.K), DiffLlamaLayout.RotaryRows(hf.D));
        state["embed_tokens.weight"] = Get("model.embed_tokens.weight");
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"model.layers.{i}.", a = p + "self_attn.", o = $"layers.{i}.";
            state[o + "attn_norm.weight"] = Get(p + "input_layernorm.weight");
            foreach (var n in DiffLlamaLayout.LambdaNames) state[o + "attn." + n] = Get(a + n);
            state[o + "attn.q_proj.weight"] = DiffLlamaLayout.PermuteRows(Get(a + "q_proj.weight"), sigmaQ, hf.D, rho);
            state[o + "attn.k_proj.weight"] = DiffLlamaLayout.PermuteRows(Get(a + "k_proj.weight"), sigmaKv, hf.D, rho);
            state[o + "attn.v_proj.weight"] = DiffLlamaLayout.PermuteRows(Get(a + "v_proj.weight"), sigmaKv, hf.D, rho: null);
            state[o + "attn.out_proj.weight"] = Get(a + "o_proj.weight");
            state[o + "attn.subln.weight"] = ones(2 * hf.D, dtype: ScalarType.Float32);
            state[o + "ffn_norm.weight"] = Get(p + "post_attention_layernorm.weight");
            foreach (var n in DiffLlamaLayout.MlpNames) state[o + "ffn." + n + ".weight"] = Get(p + "mlp." + n + ".weight");
        }
        state["norm.weight"] = Get("model.norm.weight");
        if (!config.TieEmbeddings) state["lm_head.weight"] = Get("lm_head.weight");
        CheckAgainstLayout(config, state);
        foreach (var t in state.Values) t.MoveToOuterDisposeScope();
        return (config, state);
    }

    /// <summary>
    /// Writes the checkpoint in <paramref name="hfDir"/> as one of our model directories (<see cref="ModelStore"/>) at
    /// <paramref name="outDir"/>, which must not exist or be empty; the directory appears whole or not at all. The
    /// checkpoint's tokenizer.json comes along when <see cref="HfBpeTokenizer"/> reads it (a byte-level BPE whose ids fit
    /// the vocabulary): copied unchanged as the model's tokenizer.json, which generate, serve and eval then use. Returns
    /// the configuration and notes for the user: the tokenizer taken (its size and end-of-text token) or why not.
    /// </summary>
    public static (ModelConfig Config, IReadOnlyList<string> Notes) Import(string hfDir, string outDir)
    {
        AtomicDirectory.RequireNewOrEmpty(outDir, "import");
        var (config, state) = Load(hfDir);
        var notes = new List<string>();
        string hfTokenizer = Path.Combine(hfDir, HfTokenizerJson.FileName);
        HfBpeTokenizer? tokenizer = null;
        if (File.Exists(hfTokenizer))
        {
            try
            {
                tokenizer = HfBpeTokenizer.Load(hfTokenizer);
                if (tokenizer.VocabSize > config.VocabSize)
                {
                    notes.Add($"the tokenizer {hfTokenizer} has {tokenizer.VocabSize:N0} ids, more than the model's vocab_size {config.VocabSize:N0}: not imported; {outDir} names no tokenizer");
                    tokenizer = null;
                }
            }
            catch (InvalidDataException e)
            {
                notes.Add($"the tokenizer is not imported ({e.Message}); {outDir} names no tokenizer");
            }
        }
        else
        {
            var others = TokenizerFiles.Where(f => File.Exists(Path.Combine(hfDir, f))).ToList();
            notes.Add(others.Count > 0
                ? $"{hfDir} has no tokenizer.json (only {string.Join(", ", others)}, which are not read); {outDir} names no tokenizer"
                : $"{hfDir} holds no tokenizer files; {outDir} names no tokenizer");
        }
        string tmp = AtomicDirectory.CreateTempSibling(outDir, "import");
        try
        {
            using (var model = new LanguageModel(config))
            {
                using (no_grad())
                    foreach (var (key, target) in model.state_dict()) target.copy_(state[key]);   // keys and shapes: CheckAgainstLayout
                ModelStore.Save(model, tmp, tokenizer: null, new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["imported_from"] = "diffllama",
                    ["source"] = Path.GetFullPath(hfDir),
                });
            }
            if (tokenizer is not null)
            {
                File.Copy(hfTokenizer, ModelStore.TokenizerPath(tmp));
                notes.Add($"tokenizer: {hfTokenizer} ({tokenizer.VocabSize:N0} ids, end of text {tokenizer.EndOfText} \"{tokenizer.Decode([tokenizer.EndOfText])}\") copied as the model's {ModelStore.TokenizerFile}");
            }
            AtomicDirectory.MoveIntoPlace(tmp, outDir);
        }
        catch
        {
            AtomicDirectory.TryDelete(tmp);
            throw;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        return (config, notes);
    }

    // ------------------------------------------------------------------------------------------------ configuration

    private static (ModelConfig Config, DiffLlamaLayout.Shape Shape) ReadConfig(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        JsonObject c;
        try
        {
            c = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ConfigException($"{path}: not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new ConfigException($"{path}: not valid JSON ({ex.Message})");
        }
        ConfigException Bad(string what) => new($"{path}: {what}");
        JsonNode Field(string name) => c[name] ?? throw Bad($"missing {name} (a DiffLlama config.json names it)");
        string Str(JsonNode n, string name) => n is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad($"{name} must be a string, got {n.ToJsonString()}");
        int Int(string name)
        {
            var n = Field(name);
            if (n is JsonValue v && v.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue) return (int)x;
            throw Bad($"{name} must be an integer, got {n.ToJsonString()}");
        }
        double Num(string name)
        {
            var n = Field(name);
            return n is JsonValue v && v.TryGetValue(out double x) ? x : throw Bad($"{name} must be a number, got {n.ToJsonString()}");
        }
        bool Bool(string name, bool? absent = null)
        {
            if (c[name] is null && absent is bool b) return b;
            var n = Field(name);
            return n is JsonValue v && v.TryGetValue(out bool x) ? x : throw Bad($"{name} must be true or false, got {n.ToJsonString()}");
        }

        string modelType = Str(Field("model_type"), "model_type");
        if (modelType != "diffllama") throw Bad($"model_type is \"{modelType}\", not \"diffllama\": only DiffLlama checkpoints can be imported");
        if (c["architectures"] is JsonNode archNode)
        {
            var archs = archNode is JsonArray arr ? arr.Select(a => a is null ? "null" : a.ToJsonString().Trim('"')).ToList() : [archNode.ToJsonString()];
            if (!archs.Contains("DiffLlamaForCausalLM"))
                throw Bad($"architectures is [{string.Join(", ", archs)}], not DiffLlamaForCausalLM: only the causal LM can be imported");
        }
        if (c["hidden_act"] is JsonNode act && Str(act, "hidden_act") != "silu")
            throw Bad($"hidden_act is \"{Str(act, "hidden_act")}\": our SwiGLU uses silu");
        if (Bool("attention_bias", absent: false)) throw Bad("attention_bias is true: our attention has no biases");
        if (Bool("mlp_bias", absent: false)) throw Bad("mlp_bias is true: our SwiGLU has no biases");
        if (c["rope_scaling"] is JsonNode rs && RopeType(rs) != "default")
            throw Bad($"rope_scaling is {rs.ToJsonString()}: our rotary embedding has no scaling");
        double? thetaInParameters = null;
        if (c["rope_parameters"] is JsonObject rp)                       // newer transformers keep rope_theta and rope_type here
        {
            if (RopeType(rp) != "default") throw Bad($"rope_parameters is {rp.ToJsonString()}: our rotary embedding has no scaling");
            if (rp["rope_theta"] is JsonValue tv && tv.TryGetValue(out double t)) thetaInParameters = t;
        }
        double theta = c["rope_theta"] is null && thetaInParameters is double tp ? tp : Num("rope_theta");

        int e = Int("hidden_size"), n = Int("num_attention_heads"), k = Int("num_key_value_heads");
        int l = Int("num_hidden_layers"), inter = Int("intermediate_size"), vocab = Int("vocab_size"), maxPos = Int("max_position_embeddings");
        double eps = Num("rms_norm_eps");
        bool tied = Bool("tie_word_embeddings");
        if (n <= 0 || n % 2 != 0) throw Bad($"num_attention_heads {n} must be positive and even: DiffLlama pairs head j with head j + N/2");
        if (k <= 0 || n % k != 0) throw Bad($"num_key_value_heads {k} must be positive and divide num_attention_heads {n}");
        if (k % 2 != 0)
            throw Bad($"num_key_value_heads {k} is odd: its pairs read KV heads that do not form our groups of two; an exact import would duplicate KV weights (one group per pair), which is not implemented");
        int d = c["head_dim"] is null ? (e % n == 0 ? e / n : throw Bad($"hidden_size {e} is not divisible by num_attention_heads {n}")) : Int("head_dim");
        if ((long)d * n != e)
            throw Bad($"head_dim {d} · num_attention_heads {n} = {(long)d * n} ≠ hidden_size {e}: our attention projects E to E");

        var config = new ModelConfig
        {
            Arch = Architecture.Diff,
            VocabSize = vocab,
            EmbedDim = e,
            NumLayers = l,
            NumHeads = n / 2,
            NumKvHeads = k == n ? null : k / 2,
            FfnDim = inter,
            MaxSeqLen = maxPos,
            RopeTheta = theta,
            NormEps = eps,
            HeadNormEps = eps,
            TieEmbeddings = tied,
        };
        try
        {
            config.Validate();
        }
        catch (ConfigException ex)
        {
            throw Bad($"maps to a configuration we cannot build: {ex.Message}");
        }
        return (config, new DiffLlamaLayout.Shape(e, n, k, d, inter, vocab, l));
    }

    private static string RopeType(JsonNode n) => n is JsonObject o
        ? (o["rope_type"] ?? o["type"]) is JsonValue v && v.TryGetValue(out string? s) ? s : "default"
        : n.ToJsonString();

    // ------------------------------------------------------------------------------------------------ the check

    /// <summary>The state dict must have <see cref="ParameterLayout.Model"/>'s keys and shapes (a check of this file's mapping).</summary>
    private static void CheckAgainstLayout(ModelConfig config, Dictionary<string, Tensor> state)
    {
        var layout = ParameterLayout.Model(config).ToList();
        if (!layout.Select(p => p.Key).SequenceEqual(state.Keys))
            throw new InvalidOperationException("DiffLlamaImport built keys other than ParameterLayout's");
        foreach (var p in layout)
            if (!p.Shape.SequenceEqual(state[p.Key].shape))
                throw new InvalidOperationException($"DiffLlamaImport built '{p.Key}' of shape [{string.Join(", ", state[p.Key].shape)}], ParameterLayout says [{string.Join(", ", p.Shape)}]");
    }

    // ------------------------------------------------------------------------------------------------ the files

    /// <summary>The checkpoint's safetensors files and where each key is: one file, or the shards an index names.</summary>
    private sealed class Checkpoint : IDisposable
    {
        private readonly Dictionary<string, SafeTensorsFile> files = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SafeTensorsFile> fileOf = new(StringComparer.Ordinal);

        /// <summary>What a missing key is missing from: the weights file or the index.</summary>
        private string source = "";

        public static Checkpoint Open(string dir)
        {
            var c = new Checkpoint();
            try
            {
                string index = Path.Combine(dir, IndexFile), single = Path.Combine(dir, WeightsFile);
                if (File.Exists(index)) c.OpenShards(dir, index);
                else if (File.Exists(single))
                {
                    c.source = single;
                    var f = c.files[single] = SafeTensorsFile.Open(single);
                    foreach (var key in f.Tensors.Keys) c.fileOf[key] = f;
                }
                else throw new FileNotFoundException($"{dir} holds neither {WeightsFile} nor {IndexFile}", single);
                return c;
            }
            catch
            {
                c.Dispose();
                throw;
            }
        }

        private void OpenShards(string dir, string index)
        {
            source = index;
            JsonObject map;
            try
            {
                map = (JsonNode.Parse(File.ReadAllText(index)) as JsonObject)?["weight_map"] as JsonObject
                      ?? throw new SafeTensorsException($"{index}: no \"weight_map\" object");
            }
            catch (JsonException e)
            {
                throw new SafeTensorsException($"{index}: not valid JSON ({e.Message})");
            }
            foreach (var (key, node) in map)
            {
                string shard = node is JsonValue v && v.TryGetValue(out string? s) ? s
                    : throw new SafeTensorsException($"{index}: key '{key}' maps to {node?.ToJsonString() ?? "null"}, not a file name");
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new SafeTensorsException($"{index}: key '{key}' maps to '{shard}', not a file in {dir}");
                string path = Path.Combine(dir, shard);
                if (!files.TryGetValue(path, out var file))
                {
                    if (!File.Exists(path)) throw new SafeTensorsException($"{index}: shard '{shard}' (holding '{key}') not found: {path}");
                    file = files[path] = SafeTensorsFile.Open(path);
                }
                if (!file.Tensors.ContainsKey(key))
                    throw new SafeTensorsException($"{path}: no tensor '{key}', which {index} places in it");
                fileOf[key] = file;
            }
        }

        /// <summary>
        /// Every expected key present with its shape and a dtype we convert; no other key (rotary inv_freq buffers
        /// aside, and a tied head's lm_head.weight, which must then equal the embedding).
        /// </summary>
        public void Check(List<(string Key, long[] Shape)> expected, string? tiedHead)
        {
            var missing = expected.Where(x => !fileOf.ContainsKey(x.Key)).Select(x => x.Key).ToList();
            if (missing.Count > 0)
                throw new SafeTensorsException($"{source}: missing key{(missing.Count > 1 ? "s" : "")} {ModuleWeights.Quote(missing)} of a DiffLlama checkpoint of this config.json");
            var known = expected.Select(x => x.Key).ToHashSet(StringComparer.Ordinal);
            var extra = fileOf.Keys.Where(k => !known.Contains(k) && k != tiedHead && !k.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal))
                              .Order(StringComparer.Ordinal).ToList();
            if (extra.Count > 0)
                throw new SafeTensorsException($"{source}: unexpected key{(extra.Count > 1 ? "s" : "")} {ModuleWeights.Quote(extra)} (in {string.Join(", ", extra.Select(k => Path.GetFileName(fileOf[k].Path)).Distinct())}): not part of a DiffLlama model of this config.json");
            var toCheck = new List<(string Key, long[] Shape)>(expected);
            if (tiedHead is not null && fileOf.ContainsKey(tiedHead)) toCheck.Add((tiedHead, expected[0].Shape));
            foreach (var (key, shape) in toCheck)
            {
                var f = fileOf[key];
                var info = f.Tensors[key];
                if (!info.Shape.SequenceEqual(shape))
                    throw new SafeTensorsException($"{f.Path}: key '{key}' has shape {info.ShapeText}, config.json implies [{string.Join(", ", shape)}]");
                if (!StoredTypes.Contains(info.DType))
                    throw new SafeTensorsException($"{f.Path}: key '{key}' is stored as {info.DType}; the importer reads {string.Join(", ", StoredTypes)}");
            }
            if (tiedHead is not null && fileOf.ContainsKey(tiedHead))
            {
                using var scope = NewDisposeScope();
                if (!ReadFloat32(tiedHead).equal(ReadFloat32(expected[0].Key)).all().item<bool>())
                    throw new SafeTensorsException($"{fileOf[tiedHead].Path}: key '{tiedHead}' differs from '{expected[0].Key}', but config.json has tie_word_embeddings true");
            }
        }

        /// <summary>The tensor as float32 (BF16 and F16 convert exactly).</summary>
        public Tensor ReadFloat32(string key)
        {
            using var raw = fileOf[key].Read(key);
            return raw.to_type(ScalarType.Float32);
        }

        public void Dispose()
        {
            foreach (var f in files.Values) f.Dispose();
        }
    }
}
