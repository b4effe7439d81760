using System.CommandLine;
using DiffTransformer.Data;
using DiffTransformer.Tasks;
using DiffTransformer.Tasks.Icl;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Common;

/// <summary>The training options shared by `train` and `compare`; only options given on the command line override a base.</summary>
public sealed class TrainOptionSet
{
    private static readonly TrainOptions Defaults = new();
    private static readonly IclTaskOptions IclDefaults = new();

    public ConfigOptions Model { get; } = new();
    public RuntimeOptions Runtime { get; } = new();
    public Option<string?> Data { get; } = new("--data", "-d") { Description = "Prepared dataset directory (difft prepare). Without it: the built-in --task.", HelpName = "dir" };
    public Option<string> Task { get; } = new("--task")
    {
        Description = "Built-in task without --data: recall (synthetic key→value recall, the default), needle (magic numbers hidden in text, " +
                      "asked at the end; for eval needle/attention), facts (needle plus fixed facts to memorise; for eval faithfulness) or icl " +
                      "(in-context classification episodes of the labelled --examples under random label names; for eval icl).",
        HelpName = "name",
    };
    public Option<string[]> Haystack { get; } = new("--haystack")
    {
        Description = "Text the needle and facts tasks hide their needles in: .txt, .jsonl or .jsonl.gz files or folders (default: generated filler).",
        HelpName = "files", AllowMultipleArgumentsPerToken = true,
    };
    public Option<string> HaystackField { get; } = new("--haystack-field") { Description = "JSONL field of the haystack (default text).", HelpName = "name" };
    public Option<string[]> Examples { get; } = new("--examples")
    {
        Description = "Labelled examples the icl task builds its episodes from: .jsonl or .jsonl.gz files (or folders of them), one object a line " +
                      "with a text and a label field (e.g. corpora/spam_assassin.jsonl.gz).",
        HelpName = "files", AllowMultipleArgumentsPerToken = true,
    };
    public Option<string> TextField { get; } = new("--text-field") { Description = $"The icl task: JSONL field of an example's text (default {IclDefaults.TextField}).", HelpName = "name" };
    public Option<string> LabelField { get; } = new("--label-field") { Description = $"The icl task: JSONL field of its label, whose distinct values are the classes (default {IclDefaults.LabelField}).", HelpName = "name" };
    public Option<int> MaxTextBytes { get; } = new("--max-text-bytes")
    {
        Description = $"The icl task: UTF-8 bytes of a text kept (cut at a character boundary), which bound a demonstration and so the shots a context holds (default {IclDefaults.MaxTextBytes}).",
        HelpName = "n",
    };
    public Option<int> Ways { get; } = new("--ways") { Description = "The icl task: classes an episode, drawn at random per episode (default: every class).", HelpName = "n" };
    public Option<string> Windows { get; } = new("--windows")
    {
        Description = "Where training windows start: documents (at a document boundary; the default for the needle, facts and icl tasks) or " +
                      "uniform (at any token; the default for everything else).",
        HelpName = "documents|uniform",
    };
    public Option<int> BatchSize { get; } = new("--batch-size", "-b") { Description = $"Rows per micro-batch (default {Defaults.BatchSize}).", HelpName = "n" };
    public Option<int> SeqLen { get; } = new("--seq-len", "-t") { Description = $"Tokens per row (default {Defaults.SeqLen}).", HelpName = "n" };
    public Option<long> TokensPerStep { get; } = new("--tokens-per-step") { Description = "Tokens per optimizer step; a multiple of batch·seq-len (gradient accumulation). Default: one micro-batch.", HelpName = "n" };
    public Option<long> Steps { get; } = new("--steps") { Description = $"Optimizer steps (default {Defaults.Steps}).", HelpName = "n" };
    public Option<double> Lr { get; } = new("--lr") { Description = $"Peak learning rate (default {Defaults.LearningRate}).", HelpName = "rate" };
    public Option<double> MinLrRatio { get; } = new("--min-lr-ratio") { Description = $"Final learning rate as a fraction of the peak (default {Defaults.MinLrRatio}).", HelpName = "x" };
    public Option<long> Warmup { get; } = new("--warmup") { Description = $"Linear warm-up steps (default {Defaults.WarmupSteps}).", HelpName = "steps" };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "Decay after warm-up: cosine (default), linear or constant.", HelpName = "shape" };
    public Option<double> Beta1 { get; } = new("--beta1") { Description = $"AdamW β1 (default {Defaults.Beta1}).", HelpName = "b" };
    public Option<double> Beta2 { get; } = new("--beta2") { Description = $"AdamW β2 (default {Defaults.Beta2}).", HelpName = "b" };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = $"Decoupled weight decay on matrices (default {Defaults.WeightDecay}).", HelpName = "wd" };
    public Option<double> GradClip { get; } = new("--grad-clip") { Description = $"Global gradient-norm clip, 0 disables (default {Defaults.GradClip}).", HelpName = "norm" };
    public Option<long> Seed { get; } = new("--seed") { Description = $"Seed of the weights and the data order (default {Defaults.Seed}).", HelpName = "n" };
    public Option<long> EvalInterval { get; } = new("--eval-interval") { Description = $"Validate every n steps, 0 disables (default {Defaults.EvalInterval}).", HelpName = "n" };
    public Option<int> EvalBatches { get; } = new("--eval-batches") { Description = $"Validation batches per evaluation (default {Defaults.EvalBatches}).", HelpName = "n" };
    public Option<long> CheckpointInterval { get; } = new("--checkpoint-interval") { Description = $"Checkpoint every n steps, 0: only at the end (default {Defaults.CheckpointInterval}).", HelpName = "n" };
    public Option<int> KeepCheckpoints { get; } = new("--keep-checkpoints") { Description = $"Checkpoints kept (default {Defaults.KeepCheckpoints}).", HelpName = "n" };

    public TrainOptionSet()
    {
        Schedule.AcceptOnlyFromAmong("cosine", "linear", "constant");
        Task.AcceptOnlyFromAmong("recall", "needle", "facts", "icl");
        Windows.AcceptOnlyFromAmong("documents", "uniform");
    }

    public void AddTo(Command cmd)
    {
        Model.AddTo(cmd);
        foreach (Option o in new Option[] { Data, Task, Haystack, HaystackField, Examples, TextField, LabelField, MaxTextBytes, Ways, Windows, BatchSize, SeqLen, TokensPerStep, Steps, Lr, MinLrRatio, Warmup, Schedule, Beta1, Beta2,
                     WeightDecay, GradClip, Seed, EvalInterval, EvalBatches, CheckpointInterval, KeepCheckpoints })
            cmd.Add(o);
        Runtime.AddTo(cmd);
    }

    /// <summary>Applies the options given on the command line to <paramref name="b"/>.</summary>
    public TrainOptions Apply(ParseResult p, TrainOptions b)
    {
        bool modelGiven = p.Given(Model.Preset) || p.Given(Model.Config) || p.Given(Model.Arch) || p.Given(Model.Set);
        if (modelGiven)
        {
            var (config, _) = Model.Resolve(p);
            // a preset's byte vocabulary is a default the data may replace; an explicit vocab_size is not
            bool explicitVocab = p.Given(Model.Config) || (p.GetValue(Model.Set) ?? []).Any(s => s.Replace('-', '_').StartsWith("vocab_size=", StringComparison.Ordinal));
            b = b with { Model = config, VocabFromData = !explicitVocab };
        }
        if (p.Given(Data)) b = b with { Data = p.GetValue(Data) };
        if (b.Data is not null && (p.Given(Task) || p.Given(Haystack) || p.Given(Examples)))
            throw new UsageException($"{(p.Given(Task) ? "--task" : p.Given(Haystack) ? "--haystack" : "--examples")} chooses a built-in task, which trains without --data");
        if (p.Given(Task)) b = b with { Task = Enum.Parse<BuiltinTaskKind>(p.GetValue(Task)!, ignoreCase: true) };
        if (p.Given(Haystack)) b = b with { Haystack = p.GetValue(Haystack) ?? [] };
        if (p.Given(HaystackField)) b = b with { HaystackField = p.GetValue(HaystackField)! };
        b = ApplyIcl(p, b);
        if (p.Given(Windows)) b = b with { Windows = Enum.Parse<WindowSampling>(p.GetValue(Windows)!, ignoreCase: true) };
        if (p.Given(BatchSize)) b = b with { BatchSize = p.GetValue(BatchSize) };
        if (p.Given(SeqLen)) b = b with { SeqLen = p.GetValue(SeqLen) };
        if (p.Given(TokensPerStep)) b = b with { TokensPerStep = p.GetValue(TokensPerStep) };
        if (p.Given(Steps)) b = b with { Steps = p.GetValue(Steps) };
        if (p.Given(Lr)) b = b with { LearningRate = p.GetValue(Lr) };
        if (p.Given(MinLrRatio)) b = b with { MinLrRatio = p.GetValue(MinLrRatio) };
        if (p.Given(Warmup)) b = b with { WarmupSteps = p.GetValue(Warmup) };
        if (p.Given(Schedule)) b = b with { Schedule = Enum.Parse<DecayShape>(p.GetValue(Schedule)!, ignoreCase: true) };
        if (p.Given(Beta1)) b = b with { Beta1 = p.GetValue(Beta1) };
        if (p.Given(Beta2)) b = b with { Beta2 = p.GetValue(Beta2) };
        if (p.Given(WeightDecay)) b = b with { WeightDecay = p.GetValue(WeightDecay) };
        if (p.Given(GradClip)) b = b with { GradClip = p.GetValue(GradClip) };
        if (p.Given(Seed)) b = b with { Seed = p.GetValue(Seed) };
        if (p.Given(EvalInterval)) b = b with { EvalInterval = p.GetValue(EvalInterval) };
        if (p.Given(EvalBatches)) b = b with { EvalBatches = p.GetValue(EvalBatches) };
        if (p.Given(CheckpointInterval)) b = b with { CheckpointInterval = p.GetValue(CheckpointInterval) };
        if (p.Given(KeepCheckpoints)) b = b with { KeepCheckpoints = p.GetValue(KeepCheckpoints) };
        if (p.Given(Runtime.Kernel)) b = b with { Kernel = Runtime.GetKernel(p) };
        return b;
    }

    /// <summary>The icl task's options given on the command line; refused with any other task.</summary>
    private TrainOptions ApplyIcl(ParseResult p, TrainOptions b)
    {
        var given = new Option[] { Examples, TextField, LabelField, MaxTextBytes, Ways }.Where(p.Given).Select(o => o.Name).ToList();
        if (given.Count == 0) return b;
        if (b.Task != BuiltinTaskKind.Icl) throw new UsageException($"{string.Join(", ", given)} apply to --task icl");
        var icl = b.Icl ?? new IclTaskOptions();
        if (p.Given(TextField)) icl = icl with { TextField = p.GetValue(TextField)! };
        if (p.Given(LabelField)) icl = icl with { LabelField = p.GetValue(LabelField)! };
        if (p.Given(MaxTextBytes)) icl = icl with { MaxTextBytes = p.GetValue(MaxTextBytes) };
        if (p.Given(Ways)) icl = icl with { Ways = p.GetValue(Ways) };
        return b with { Icl = icl, Examples = p.Given(Examples) ? p.GetValue(Examples) ?? [] : b.Examples };
    }
}
