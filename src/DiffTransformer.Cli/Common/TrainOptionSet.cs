using System.CommandLine;
using DiffTransformer.Model;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Common;

/// <summary>The training options shared by `train` and `compare`; only options given on the command line override a base.</summary>
public sealed class TrainOptionSet
{
    private static readonly TrainOptions Defaults = new();

    public ConfigOptions Model { get; } = new(defaultPreset: "tiny");
    public Option<string?> Data { get; } = new("--data", "-d") { Description = "Prepared dataset directory (difft prepare). Without it: the built-in synthetic key→value recall task.", HelpName = "dir" };
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
    public Option<string> Kernel { get; } = new("--kernel") { Description = "Attention core: blocked (default: our exact C# SIMD kernel on CPU float32, else fused), fused (scaled_dot_product_attention) or explicit (materialises the maps).", HelpName = "core" };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads for libtorch (default: all cores).", HelpName = "n" };

    public TrainOptionSet()
    {
        Schedule.AcceptOnlyFromAmong("cosine", "linear", "constant");
        Kernel.AcceptOnlyFromAmong("fused", "blocked", "explicit");
    }

    public void AddTo(Command cmd)
    {
        Model.AddTo(cmd);
        foreach (Option o in new Option[] { Data, BatchSize, SeqLen, TokensPerStep, Steps, Lr, MinLrRatio, Warmup, Schedule, Beta1, Beta2,
                     WeightDecay, GradClip, Seed, EvalInterval, EvalBatches, CheckpointInterval, KeepCheckpoints, Kernel, Threads })
            cmd.Add(o);
    }

    private static bool Given(ParseResult p, Option o) => p.GetResult(o) is { Implicit: false };

    /// <summary>Applies the options given on the command line to <paramref name="b"/>.</summary>
    public TrainOptions Apply(ParseResult p, TrainOptions b)
    {
        bool modelGiven = Given(p, Model.Preset) || Given(p, Model.Config) || Given(p, Model.Arch) || Given(p, Model.Set);
        if (modelGiven)
        {
            var (config, _) = Model.Resolve(p);
            // a preset's byte vocabulary is a default the data may replace; an explicit vocab_size is not
            bool explicitVocab = Given(p, Model.Config) || (p.GetValue(Model.Set) ?? []).Any(s => s.Replace('-', '_').StartsWith("vocab_size=", StringComparison.Ordinal));
            b = b with { Model = config, VocabFromData = !explicitVocab };
        }
        if (Given(p, Data)) b = b with { Data = p.GetValue(Data) };
        if (Given(p, BatchSize)) b = b with { BatchSize = p.GetValue(BatchSize) };
        if (Given(p, SeqLen)) b = b with { SeqLen = p.GetValue(SeqLen) };
        if (Given(p, TokensPerStep)) b = b with { TokensPerStep = p.GetValue(TokensPerStep) };
        if (Given(p, Steps)) b = b with { Steps = p.GetValue(Steps) };
        if (Given(p, Lr)) b = b with { LearningRate = p.GetValue(Lr) };
        if (Given(p, MinLrRatio)) b = b with { MinLrRatio = p.GetValue(MinLrRatio) };
        if (Given(p, Warmup)) b = b with { WarmupSteps = p.GetValue(Warmup) };
        if (Given(p, Schedule)) b = b with { Schedule = Enum.Parse<DecayShape>(p.GetValue(Schedule)!, ignoreCase: true) };
        if (Given(p, Beta1)) b = b with { Beta1 = p.GetValue(Beta1) };
        if (Given(p, Beta2)) b = b with { Beta2 = p.GetValue(Beta2) };
        if (Given(p, WeightDecay)) b = b with { WeightDecay = p.GetValue(WeightDecay) };
        if (Given(p, GradClip)) b = b with { GradClip = p.GetValue(GradClip) };
        if (Given(p, Seed)) b = b with { Seed = p.GetValue(Seed) };
        if (Given(p, EvalInterval)) b = b with { EvalInterval = p.GetValue(EvalInterval) };
        if (Given(p, EvalBatches)) b = b with { EvalBatches = p.GetValue(EvalBatches) };
        if (Given(p, CheckpointInterval)) b = b with { CheckpointInterval = p.GetValue(CheckpointInterval) };
        if (Given(p, KeepCheckpoints)) b = b with { KeepCheckpoints = p.GetValue(KeepCheckpoints) };
        if (Given(p, Kernel)) b = b with { Kernel = Enum.Parse<AttentionKernel>(p.GetValue(Kernel)!, ignoreCase: true) };
        return b;
    }

    /// <summary>Sets libtorch's thread count from --threads (all cores by default).</summary>
    public void ApplyThreads(ParseResult p)
    {
        int n = Given(p, Threads) ? p.GetValue(Threads) : Environment.ProcessorCount;
        if (n <= 0) throw new UsageException($"--threads must be positive, got {n}");
        TorchSharp.torch.set_num_threads(n);
    }
}
