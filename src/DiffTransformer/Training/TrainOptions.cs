using System.Text.Json.Serialization;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tasks;
using DiffTransformer.Tasks.Icl;

namespace DiffTransformer.Training;

/// <summary>Everything that determines a training run. Saved as run.json in the run directory; a resumed run reuses it.</summary>
public sealed record TrainOptions
{
    /// <summary>A prepared dataset directory (see <c>difft prepare</c>); null trains on the built-in <see cref="Task"/>.</summary>
    public string? Data { get; init; }

    /// <summary>
    /// The built-in task trained without <see cref="Data"/>, generated into the run's data/ folder. With <see cref="Data"/>
    /// it only records which task generated that data (a <c>compare</c> sub-run trains on the data its parent generated).
    /// </summary>
    public BuiltinTaskKind Task { get; init; } = BuiltinTaskKind.Recall;

    /// <summary>Text files or corpora (.txt, .jsonl, .gz) the needle and facts tasks hide their needles in; empty: generated filler.</summary>
    public IReadOnlyList<string> Haystack { get; init; } = [];

    /// <summary>The JSONL field of the haystack inputs.</summary>
    public string HaystackField { get; init; } = "text";

    /// <summary>Labelled JSONL files (or folders of them) the icl task builds its episodes from; empty for every other task.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];

    /// <summary>
    /// How the icl task reads <see cref="Examples"/> and shapes its episodes; null for every other task, and for the icl
    /// task resolved to the defaults (<see cref="IclTaskOptions"/>) by <see cref="Validate"/>, so run.json records them.
    /// </summary>
    public IclTaskOptions? Icl { get; init; }

    /// <summary>Run directory: metrics.jsonl, loss.png, checkpoints/, final/.</summary>
    public string Out { get; init; } = Path.Combine("runs", "default");

    /// <summary>The model to train.</summary>
    public ModelConfig Model { get; init; } = Presets.Get("tiny");

    /// <summary>When true, vocab_size is set from the dataset's tokenizer (a preset's vocabulary is only a default); see <see cref="ResolveVocabulary"/>.</summary>
    public bool VocabFromData { get; init; } = true;

    /// <summary>Rows of one micro-batch.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Tokens per row (the training context).</summary>
    public int SeqLen { get; init; } = 128;

    /// <summary>Tokens per optimizer step; a multiple of batch_size·seq_len (gradient accumulation). 0: one micro-batch.</summary>
    public long TokensPerStep { get; init; }

    /// <summary>Optimizer steps of the run.</summary>
    public long Steps { get; init; } = 600;

    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Final learning rate as a fraction of the peak.</summary>
    public double MinLrRatio { get; init; } = 0.1;

    public long WarmupSteps { get; init; } = 30;

    public DecayShape Schedule { get; init; } = DecayShape.Cosine;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Global gradient-norm clip; 0 disables.</summary>
    public double GradClip { get; init; } = 1.0;

    /// <summary>Seeds the weights and the data order.</summary>
    public long Seed { get; init; } = 1337;

    /// <summary>Validation every this many steps (and at the end); 0 disables.</summary>
    public long EvalInterval { get; init; } = 100;

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Checkpoint every this many steps (and at the end); 0: only at the end.</summary>
    public long CheckpointInterval { get; init; } = 200;

    /// <summary>Checkpoints kept; older ones are deleted.</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>
    /// Attention kernel. Blocked (our exact kernel; fused where it does not apply, e.g. on CUDA) is the fastest exact kernel
    /// on CPU (docs/BENCHMARKS.md). Not part of a run's identity: the kernels compute the same function, so a resume may switch.
    /// </summary>
    public AttentionKernel Kernel { get; init; } = AttentionKernel.Blocked;

    /// <summary>
    /// Where training windows start (<see cref="WindowSampling"/>); null: the dataset's default
    /// (<see cref="BuiltinTask.DefaultWindows"/>: documents for the needle, facts and icl tasks, uniform otherwise), resolved
    /// before run.json is written (<see cref="ResolveWindows"/>). Validation windows follow the same rule, evenly spaced.
    /// </summary>
    public WindowSampling? Windows { get; init; }

    [JsonIgnore] public int AccumulationSteps => TokensPerStep <= 0 ? 1 : (int)(TokensPerStep / ((long)BatchSize * SeqLen));
    [JsonIgnore] public long EffectiveTokensPerStep => (long)AccumulationSteps * BatchSize * SeqLen;

    /// <summary>
    /// Checks ranges and combinations; the message names the option and its value. Returns the options with the icl
    /// task's <see cref="Icl"/> resolved.
    /// </summary>
    public TrainOptions Validate()
    {
        Model.Validate();
        if (Model.LinearWeights != WeightFormat.Float32)
            throw new ConfigException($"weights {Model.Weights.ToString()!.ToLowerInvariant()} is for inference only: train the float32 model and quantise it afterwards (difft quantize)");
        Model.CheckFitsMemory();   // before the run directory is touched (again by the trainer once the data set the vocabulary)
        void Positive(string name, double v)
        {
            if (!(v > 0)) throw new ArgumentException($"{name} must be positive, got {v}");
        }
        Positive("batch_size", BatchSize);
        Positive("seq_len", SeqLen);
        Positive("steps", Steps);
        Positive("learning_rate", LearningRate);
        if (SeqLen > Model.MaxSeqLen) throw new ArgumentException($"seq_len {SeqLen} exceeds the model's max_seq_len {Model.MaxSeqLen}");
        if (TokensPerStep < 0) throw new ArgumentException($"tokens_per_step must be non-negative, got {TokensPerStep}");
        long micro = (long)BatchSize * SeqLen;
        if (TokensPerStep > 0 && (TokensPerStep % micro != 0))
            throw new ArgumentException($"tokens_per_step {TokensPerStep} is not a multiple of batch_size·seq_len = {BatchSize}·{SeqLen} = {micro}");
        if (MinLrRatio is < 0 or > 1) throw new ArgumentException($"min_lr_ratio must be in [0, 1], got {MinLrRatio}");
        if (WarmupSteps < 0) throw new ArgumentException($"warmup_steps must be non-negative, got {WarmupSteps}");
        if (Beta1 is < 0 or >= 1 || Beta2 is < 0 or >= 1) throw new ArgumentException($"betas must be in [0, 1), got ({Beta1}, {Beta2})");
        if (WeightDecay < 0) throw new ArgumentException($"weight_decay must be non-negative, got {WeightDecay}");
        if (GradClip < 0) throw new ArgumentException($"grad_clip must be non-negative, got {GradClip}");
        if (EvalInterval < 0 || CheckpointInterval < 0) throw new ArgumentException("eval and checkpoint intervals must be non-negative");
        if (EvalBatches <= 0) throw new ArgumentException($"eval_batches must be positive, got {EvalBatches}");
        if (Haystack.Count > 0 && Task == BuiltinTaskKind.Recall)
            throw new ArgumentException("a haystack applies to the built-in needle and facts tasks, not to the recall task");
        foreach (var h in Haystack)
            if (!File.Exists(h) && !Directory.Exists(h)) throw new FileNotFoundException($"haystack {h}: no such file or directory", h);
        if (KeepCheckpoints < 1) throw new ArgumentException($"keep_checkpoints must be at least 1, got {KeepCheckpoints}");
        if (Task != BuiltinTaskKind.Icl)
        {
            if (Examples.Count > 0) throw new ArgumentException($"labelled examples apply to the built-in icl task, not to the {Task.ToString().ToLowerInvariant()} task");
            if (Icl is not null) throw new ArgumentException($"icl options apply to the built-in icl task, not to the {Task.ToString().ToLowerInvariant()} task");
            return this;
        }
        if (Haystack.Count > 0) throw new ArgumentException("a haystack applies to the built-in needle and facts tasks, not to the icl task");
        if (Data is null && Examples.Count == 0) throw new ArgumentException("the icl task needs labelled examples: --examples FILE… (JSONL with a text and a label field)");
        foreach (var e in Examples)
            if (!File.Exists(e) && !Directory.Exists(e)) throw new FileNotFoundException($"examples {e}: no such file or directory", e);
        return this with { Icl = (Icl ?? new IclTaskOptions()).Validate() };
    }

    /// <summary>Combinations that are valid but probably not what was meant, as sentences for the log.</summary>
    public IReadOnlyList<string> Warnings()
    {
        var w = new List<string>();
        if (WarmupSteps >= Steps)
            w.Add($"warmup_steps {WarmupSteps} ≥ steps {Steps}: the run never reaches the peak learning rate {LearningRate} (it ends at {MakeSchedule().At(Steps - 1):G3}); lower --warmup");
        return w;
    }

    /// <summary>
    /// The vocabulary rule, in one place: with <see cref="VocabFromData"/> the model's vocab_size becomes the dataset's;
    /// an explicit one stands. Either way the dataset's tokens must fit, or <see cref="ConfigException"/> says so.
    /// </summary>
    public TrainOptions ResolveVocabulary(DatasetMeta meta)
    {
        var model = VocabFromData ? Model with { VocabSize = meta.VocabSize } : Model;
        if (meta.VocabSize > model.VocabSize)
            throw new ConfigException($"the dataset's tokenizer '{meta.Tokenizer}' has {meta.VocabSize} tokens but the model's vocab_size is {model.VocabSize}; set vocab_size to at least {meta.VocabSize}");
        return this with { Model = model };
    }

    /// <summary>The window rule, in one place: an explicit <see cref="Windows"/> stands, else the dataset's default.</summary>
    public TrainOptions ResolveWindows(string dataDir) => Windows is null ? this with { Windows = BuiltinTask.DefaultWindows(dataDir) } : this;

    public LrSchedule MakeSchedule() => new(LearningRate, LearningRate * MinLrRatio, WarmupSteps, Steps, Schedule);

    /// <summary>run.json's text (<see cref="Json.Escaped"/>, the form it has always had).</summary>
    public string ToJson() => Json.Serialize(this, Json.Escaped);

    /// <summary>Writes run.json atomically.</summary>
    public void Save(string path) => Json.Write(path, this, Json.Escaped);

    /// <summary>Fields run.json may lack: those added after runs were first saved (their defaults are what those runs did).</summary>
    public static IReadOnlyList<string> OptionalFields { get; } = ["task", "haystack", "haystack_field", "kernel", "vocab_from_data", "tokens_per_step", "schedule", "windows", "examples", "icl"];

    /// <summary>
    /// Parses run.json: an unknown field is refused, and so is a missing one (but <see cref="OptionalFields"/>) — a run.json
    /// replaced by <c>{}</c> must not resume as "all defaults"; messages name <paramref name="source"/> and the fields.
    /// </summary>
    public static TrainOptions FromJson(string json, string source)
    {
        var options = Json.Parse<TrainOptions>(json, source) ?? throw new InvalidDataException($"{source}: empty");
        var missing = Json.MissingMembers(json, new TrainOptions(), OptionalFields);
        if (missing.Count > 0) throw new InvalidDataException($"{source}: missing {string.Join(", ", missing)} (a damaged run.json; the run cannot resume without them)");
        // a run.json without windows predates the rule, when every run sampled uniformly
        bool predatesWindows = System.Text.Json.Nodes.JsonNode.Parse(json) is System.Text.Json.Nodes.JsonObject o && !o.ContainsKey("windows");
        return predatesWindows ? options with { Windows = WindowSampling.Uniform } : options;
    }
}
