namespace DiffTransformer.Model;

/// <summary>Named configurations: the paper's six sizes and small models that train on a CPU.</summary>
public static class Presets
{
    /// <summary>cl100k_base with the paper's padding: 100,288 rows.</summary>
    public const int PaperVocab = 100_288;

    /// <summary>Byte-level vocabulary: 256 bytes and end-of-text.</summary>
    public const int ByteVocab = 257;

    static ModelConfig Paper(int e, int layers, int heads, int ffn, int maxSeq = 2048) => new()
    {
        VocabSize = PaperVocab,
        EmbedDim = e,
        NumLayers = layers,
        NumHeads = heads,
        FfnDim = ffn,
        MaxSeqLen = maxSeq,
    };

    static readonly (string Name, string Description, ModelConfig Config)[] All =
    [
        // tiny and small: wider initialisation than GPT-2's 0.02 (which suits widths of 768 and more): at E = 128 it
        // delays learning to retrieve from context by hundreds of steps, at E = 384 it costs 0.04–0.10 nats of
        // validation loss after 300 steps of SOTU (docs/RESULTS.md)
        ("tiny", "≈1.0M parameters, byte-level vocabulary; the built-in task, tests and quick demos",
            new ModelConfig { VocabSize = ByteVocab, EmbedDim = 128, NumLayers = 5, NumHeads = 2, MaxSeqLen = 512, TieEmbeddings = true, InitStd = 0.05, EmbedInitStd = 1.0 }),
        ("small", "≈10.7M parameters, byte-level vocabulary; CPU training runs of 30–45 minutes",
            new ModelConfig { VocabSize = ByteVocab, EmbedDim = 384, NumLayers = 6, NumHeads = 3, FfnDim = 1024, MaxSeqLen = 2048, TieEmbeddings = true, InitStd = 0.05 }),
        ("830M", "paper: scaling run", Paper(1536, 24, 8, 4096)),
        ("1.4B", "paper: scaling run; the ablations used this size", Paper(2048, 24, 8, 5461)),
        ("2.8B", "paper: scaling run", Paper(2560, 32, 10, 6827)),
        ("6.8B", "paper: scaling run", Paper(4096, 32, 16, 10923)),
        ("13.1B", "paper: scaling run", Paper(5120, 40, 20, 13653)),
        ("3B", "paper, the 1T-token model (4K context)", Paper(3072, 28, 12, 8192, maxSeq: 4096)),
    ];

    public static IReadOnlyList<string> Names { get; } = All.Select(p => p.Name).ToArray();

    public static string Describe(string name) => All.First(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Description;

    /// <summary>The preset's configuration (names are case-insensitive).</summary>
    public static ModelConfig Get(string name)
    {
        foreach (var p in All)
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) return p.Config.Validate();
        throw new ConfigException($"unknown preset '{name}'; known presets: {string.Join(", ", Names)}");
    }
}
