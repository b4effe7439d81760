using System.Text.Json;
using DiffTransformer.IO;
using System.Text.Json.Serialization;

namespace DiffTransformer.Model;

/// <summary>
/// The model's shape, one record for both architectures. Serialised as JSON with snake_case names
/// (<c>config.json</c> beside every checkpoint). Symbols follow the paper: E, H, Hkv, d.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>diff or transformer.</summary>
    public Architecture Arch { get; init; } = Architecture.Diff;

    /// <summary>Vocabulary size V (rows of the embedding and of the LM head).</summary>
    public int VocabSize { get; init; } = 257;

    /// <summary>Model width E.</summary>
    public int EmbedDim { get; init; } = 128;

    /// <summary>Number of decoder blocks L.</summary>
    public int NumLayers { get; init; } = 4;

    /// <summary>DIFF heads H. The baseline Transformer uses 2H heads of the same width d.</summary>
    public int NumHeads { get; init; } = 2;

    /// <summary>KV heads Hkv for grouped-query attention (DIFF count; the baseline has 2·Hkv); null: H (MHA).</summary>
    public int? NumKvHeads { get; init; }

    /// <summary>SwiGLU hidden width; null: round(8/3·E).</summary>
    public int? FfnDim { get; init; }

    /// <summary>Longest sequence the model accepts (rotary needs no table limit, but prompts are checked against it).</summary>
    public int MaxSeqLen { get; init; } = 256;

    /// <summary>Rotary base θ (10,000; the paper's 64K extension used 640,000).</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary>Epsilon of the block and final RMSNorms (the per-head subln has its own, <see cref="HeadNormEps"/>).</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>
    /// Epsilon of the per-head RMSNorm (subln) of DIFF attention; null: 1e-5, the authors' value. Set by the DiffLlama
    /// importer to the checkpoint's rms_norm_eps, which Hugging Face's per-pair norm uses.
    /// </summary>
    public double? HeadNormEps { get; init; }

    /// <summary>Share the embedding matrix with the LM head.</summary>
    public bool TieEmbeddings { get; init; }

    /// <summary>Standard deviation of the normal initialisation of matrices (residual outputs get std/√(2L)).</summary>
    public double InitStd { get; init; } = 0.02;

    /// <summary>
    /// Standard deviation of the token embedding's initialisation; null: <see cref="InitStd"/>. Small models learn to
    /// retrieve from context much sooner with a unit-scale embedding (PyTorch's nn.Embedding default) than with 0.02.
    /// </summary>
    public double? EmbedInitStd { get; init; }

    /// <summary>
    /// Storage of every linear layer's weight (attention and SwiGLU projections, an untied LM head): null or float32, or
    /// int8 with per-output-channel scales (<see cref="Projection"/>; inference only, written by <c>difft quantize</c>).
    /// The embedding and the norms stay float32.
    /// </summary>
    public WeightFormat? Weights { get; init; }

    // ---- derived ----

    /// <summary>The linear layers' storage, defaulted to float32.</summary>
    [JsonIgnore] public WeightFormat LinearWeights => Weights ?? WeightFormat.Float32;

    /// <summary>The per-head norm's epsilon, defaulted to 1e-5.</summary>
    [JsonIgnore] public double SublnEps => HeadNormEps ?? DefaultHeadNormEps;

    /// <summary>The per-head norm's epsilon when the config sets none (the authors' subln).</summary>
    public const double DefaultHeadNormEps = 1e-5;

    /// <summary>Hkv, defaulted.</summary>
    [JsonIgnore] public int KvHeads => NumKvHeads ?? NumHeads;

    /// <summary>n_rep = H / Hkv.</summary>
    [JsonIgnore] public int NRep => NumHeads / KvHeads;

    /// <summary>d = E / H / 2: width of one sub-head (DIFF) or one head (baseline).</summary>
    [JsonIgnore] public int HeadDim => EmbedDim / NumHeads / 2;

    /// <summary>FFN width, defaulted to round(8/3·E).</summary>
    [JsonIgnore] public int FfnHidden => (FfnDim ?? DefaultFfnDim(EmbedDim)) + (Arch == Architecture.Diff2 ? V2FfnWidening : 0);

    /// <summary>
    /// How much wider DIFF V2's SwiGLU is than ffn_dim (which stays the baseline's width): a V2 layer has fewer attention
    /// parameters than the baseline's — K and V of h_kv·d rows against 2·h_kv·d, an output projection of h·d columns against
    /// E, and λ's h×E — so 3·E·w ≈ 2·h_kv·d·E + E·E/2 − h·E, w = round((2·h_kv·d + E/2 − h) / 3). The rest, under E per
    /// layer, is the count's only difference.
    /// </summary>
    [JsonIgnore] public int V2FfnWidening => (int)Math.Round((2.0 * KvHeads * HeadDim + EmbedDim / 2.0 - NumHeads) / 3.0, MidpointRounding.AwayFromZero);

    public static int DefaultFfnDim(int embedDim) => (int)Math.Round(8.0 * embedDim / 3.0, MidpointRounding.AwayFromZero);

    /// <summary>Checks every constraint; throws <see cref="ConfigException"/> naming the field and values at fault.</summary>
    public ModelConfig Validate()
    {
        void Positive(string name, double value)
        {
            if (!(value > 0)) throw new ConfigException($"{name} must be positive, got {value}");
        }
        Positive("vocab_size", VocabSize);
        Positive("embed_dim", EmbedDim);
        Positive("num_layers", NumLayers);
        Positive("num_heads", NumHeads);
        Positive("max_seq_len", MaxSeqLen);
        Positive("rope_theta", RopeTheta);
        Positive("norm_eps", NormEps);
        if (HeadNormEps is double he) Positive("head_norm_eps", he);
        if (NumKvHeads is int kv) Positive("num_kv_heads", kv);
        if (FfnDim is int f) Positive("ffn_dim", f);
        if (InitStd < 0 || double.IsNaN(InitStd)) throw new ConfigException($"init_std must be non-negative, got {InitStd}");
        if (EmbedInitStd is double es && (es < 0 || double.IsNaN(es))) throw new ConfigException($"embed_init_std must be non-negative, got {es}");
        if (EmbedDim % (2 * NumHeads) != 0)
            throw new ConfigException($"embed_dim {EmbedDim} is not divisible by 2·num_heads = {2 * NumHeads}");
        if (NumHeads % KvHeads != 0)
            throw new ConfigException($"num_heads {NumHeads} is not divisible by num_kv_heads {KvHeads}");
        if (HeadDim % 2 != 0)
            throw new ConfigException($"head dim d = embed_dim / (2·num_heads) = {EmbedDim} / {2 * NumHeads} = {HeadDim} must be even for rotary embedding");
        return this;
    }

    // ---- JSON ----

    public string ToJson() => Json.Serialize(this);

    /// <summary>Parses and validates; <paramref name="source"/> names the origin in error messages.</summary>
    public static ModelConfig FromJson(string json, string source = "config") => Parse(json, source).ValidateIn(source);

    /// <summary>Parses without validating (gaps filled with defaults); a malformed or empty text is refused naming <paramref name="source"/>.</summary>
    private static ModelConfig Parse(string json, string source)
    {
        ModelConfig? cfg;
        try
        {
            cfg = Json.Parse<ModelConfig>(json, source);
        }
        catch (InvalidDataException e)
        {
            throw new ConfigException(e.Message);
        }
        return cfg ?? throw new ConfigException($"{source}: empty configuration");
    }

    /// <summary><see cref="Validate"/>, its message prefixed with <paramref name="source"/>.</summary>
    private ModelConfig ValidateIn(string source)
    {
        try
        {
            return Validate();
        }
        catch (ConfigException e)
        {
            throw new ConfigException($"{source}: {e.Message}");
        }
    }

    /// <summary>
    /// A copy with fields replaced by "key=value" overrides (snake_case keys as in config.json; value parsed as
    /// JSON when it is a number, true/false or null, else taken as a string). Unknown keys are refused by name.
    /// </summary>
    public ModelConfig WithOverrides(IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(ToJson())!.AsObject();
        foreach (var (rawKey, value) in overrides)
        {
            string key = rawKey.Trim().Replace('-', '_');
            if (!node.ContainsKey(key))
                throw new ConfigException($"unknown config field '{rawKey}'; fields: {string.Join(", ", node.Select(p => p.Key))}");
            System.Text.Json.Nodes.JsonNode? v;
            try
            {
                v = System.Text.Json.Nodes.JsonNode.Parse(value);
                if (v is System.Text.Json.Nodes.JsonObject or System.Text.Json.Nodes.JsonArray) v = System.Text.Json.Nodes.JsonValue.Create(value);
            }
            catch (JsonException)
            {
                v = System.Text.Json.Nodes.JsonValue.Create(value);
            }
            node[key] = v;
        }
        try
        {
            return FromJson(node.ToJsonString(), "overrides");
        }
        catch (ConfigException e) when (e.Message.StartsWith("overrides: ", StringComparison.Ordinal))
        {
            throw new ConfigException(e.Message["overrides: ".Length..]);
        }
    }

    /// <summary>Fields a config file may leave out: the nullable ones, whose absence means their default rule.</summary>
    public static IReadOnlyList<string> OptionalFields { get; } = ["num_kv_heads", "ffn_dim", "embed_init_std", "head_norm_eps", "weights"];

    /// <summary>
    /// Reads a config file. Unlike <see cref="FromJson"/> (which fills gaps with defaults, for overrides and embedded
    /// copies), a file must name every field but <see cref="OptionalFields"/>: a missing max_seq_len silently becoming
    /// 256 would disagree with the weights it describes. The message names the file and every missing field. Missing
    /// fields are reported before the configuration is validated: the defaults that fill them could otherwise make a
    /// constraint fail (an odd head dim, say) and the message would blame a field the file never set.
    /// </summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        string json = File.ReadAllText(path);
        var config = Parse(json, path);                                          // well-formed JSON first, so the next line can read it
        var missing = Json.MissingMembers(json, new ModelConfig(), OptionalFields);
        if (missing.Count > 0)
            throw new ConfigException($"{path}: missing {string.Join(", ", missing)}; a config file names every field (`difft info --preset tiny --json` prints a complete one)");
        return config.ValidateIn(path);
    }

    /// <summary>
    /// Refuses a model whose parameters alone (float32) exceed <paramref name="availableBytes"/>, naming the figure, before
    /// anything is allocated (an allocation that large would fail inside libtorch).
    /// </summary>
    public void CheckFits(long availableBytes)
    {
        double e = EmbedDim, v = VocabSize, f = FfnHidden;
        double perLayer = 4 * e * e + 3 * e * f + 4 * e + 6 * HeadDim;   // attention (an upper bound under GQA), SwiGLU, norms, λ and subln
        double parameters = v * e * (TieEmbeddings ? 1 : 2) + NumLayers * perLayer + e;
        double bytes = 4 * parameters;
        if (bytes > availableBytes)
            throw new ConfigException($"the model needs {bytes / (1L << 30):N1} GiB for its {parameters:N0} parameters alone (vocab_size {VocabSize}, embed_dim {EmbedDim}, " +
                                      $"num_layers {NumLayers}, ffn {FfnHidden}), more than the {availableBytes / (double)(1L << 30):N1} GiB of memory available");
    }

    /// <summary><see cref="CheckFits"/> against the memory this process may use (the GC's view of the machine or container).</summary>
    public void CheckFitsMemory() => CheckFits(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    public void Save(string path) => Json.Write(path, this);
}
