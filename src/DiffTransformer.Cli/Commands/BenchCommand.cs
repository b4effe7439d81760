using System.CommandLine;
using System.Globalization;
using DiffTransformer.Benchmarks;
using DiffTransformer.Cli.Common;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Commands;

/// <summary>
/// <c>difft bench &lt;what&gt;</c>: speed measurements, one subcommand each: run the library's benchmark, print its
/// report (<c>ToMarkdown</c>) on stdout, progress on stderr. To add one, write a <c>static Command CreateXxx()</c> below
/// (<see cref="RuntimeOptions"/> gives --threads and --kernel) and list it in <see cref="Subcommands"/>.
/// </summary>
public static class BenchCommand
{
    private static readonly Func<Command>[] Subcommands = [CreateDecode, CreateServe, CreateAttention, CreateModel, CreateProfile];

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure speed on this machine (results are markdown tables on stdout, progress on stderr).");
        foreach (var sub in Subcommands) cmd.Add(sub());
        return cmd;
    }

    // ---- bench decode ----

    private static Command CreateDecode()
    {
        var cmd = new Command("decode", "Decode tokens/s with the KV cache at several contexts, and without it (recomputing the prefix for every token); several architectures and weight formats side by side with --archs and --weights.");
        var config = new ConfigOptions();
        config.AddTo(cmd);
        var contexts = new Option<string>("--contexts") { Description = "Contexts for cached decoding (the timed tokens end there).", HelpName = "n,n,…", DefaultValueFactory = _ => "128,1024,2048" };
        var tokens = new Option<int>("--tokens") { Description = "Tokens timed per cached measurement.", DefaultValueFactory = _ => 32 };
        var recompute = new Option<string>("--recompute") { Description = "Contexts for decoding without the cache (empty: none).", HelpName = "n,n,…", DefaultValueFactory = _ => "1024" };
        var recomputeTokens = new Option<int>("--recompute-tokens") { Description = "Tokens timed per recompute measurement.", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, alternating, and the table shows medians.", DefaultValueFactory = _ => 3 };
        var seed = new Option<long>("--seed") { Description = "Seed of the random weights and tokens.", DefaultValueFactory = _ => 0 };
        var archs = new Option<string>("--archs") { Description = "Architectures to time side by side on the shape, in rotating order (default: the config's own).", HelpName = "diff,transformer,diff2" };
        var weights = new Option<string>("--weights") { Description = "Weight formats to time side by side (default: the config's own).", HelpName = "float32,int8" };
        foreach (var o in new Option[] { contexts, tokens, recompute, recomputeTokens, repeats, seed, archs, weights }) cmd.Add(o);
        var runtime = new RuntimeOptions();
        runtime.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            runtime.ApplyThreads(parse);
            var (cfg, name) = config.Resolve(parse);
            var options = new DecodeBenchmarkOptions
            {
                Config = cfg,
                Contexts = ParseIntList(parse.GetValue(contexts)!, "--contexts"),
                Tokens = parse.GetValue(tokens),
                RecomputeContexts = string.IsNullOrWhiteSpace(parse.GetValue(recompute)) ? [] : ParseIntList(parse.GetValue(recompute)!, "--recompute"),
                RecomputeTokens = parse.GetValue(recomputeTokens),
                Repeats = parse.GetValue(repeats),
                Kernel = runtime.GetKernel(parse),
                Seed = parse.GetValue(seed),
                Archs = parse.GetValue(archs) is { } a ? ParseList(a, ParseArch) : [],
                Weights = parse.GetValue(weights) is { } wf ? ParseList(wf, ParseWeights) : [],
            };
            var result = DecodeBenchmark.Run(options, Progress(parse), CancellationToken.None);
            parse.Stdout().Write(result.ToMarkdown(name));
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- bench serve ----

    private static Command CreateServe()
    {
        var cmd = new Command("serve", "Load test of `difft serve`: the server in this process on 127.0.0.1 (random weights), N concurrent streaming clients, aggregate tokens/s against one client and each stream's latency.");
        var config = new ConfigOptions();
        config.AddTo(cmd);
        var clients = new Option<string>("--clients") { Description = "Concurrent client counts to measure.", HelpName = "n,n,…", DefaultValueFactory = _ => "1,4,16" };
        var requests = new Option<int>("--requests") { Description = "Streaming requests per client, one after another.", DefaultValueFactory = _ => 4 };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length in tokens.", DefaultValueFactory = _ => 32 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "New tokens per request.", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every client count once, in rotating order; the table shows medians.", DefaultValueFactory = _ => 1 };
        var timeLimit = new Option<double>("--time-limit") { Description = "Seconds per measurement after which no client starts another request.", HelpName = "seconds", DefaultValueFactory = _ => 120 };
        var seed = new Option<long>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 0 };
        foreach (var o in new[] { requests, promptTokens, maxTokens, repeats }) AtLeastOne(o);
        foreach (var o in new Option[] { clients, requests, promptTokens, maxTokens, repeats, timeLimit, seed }) cmd.Add(o);
        var runtime = new RuntimeOptions();
        runtime.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            runtime.ApplyThreads(parse);
            var (cfg, name) = config.Resolve(parse);
            double limit = parse.GetValue(timeLimit);
            if (!(limit > 0 && limit <= 86400)) throw new UsageException($"--time-limit must be in (0, 86400] seconds, got {limit}");
            var options = new ServeBenchmarkOptions
            {
                Config = cfg,
                Clients = ParseIntList(parse.GetValue(clients)!, "--clients"),
                RequestsPerClient = parse.GetValue(requests),
                PromptTokens = parse.GetValue(promptTokens),
                MaxTokens = parse.GetValue(maxTokens),
                Repeats = parse.GetValue(repeats),
                TimeLimit = TimeSpan.FromSeconds(limit),
                Kernel = runtime.GetKernel(parse),
                Seed = parse.GetValue(seed),
            };
            var result = ServeBenchmark.Run(options, Progress(parse), CancellationToken.None);
            parse.Stdout().Write(result.ToMarkdown(name, CommandLine(parse)));
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- bench attention ----

    private static Command CreateAttention()
    {
        var cmd = new Command("attention", "One DIFF attention layer against one baseline layer of equal parameters: forward and forward+backward tokens/s and peak memory, per kernel and sequence length.");
        var embed = new Option<int>("--embed-dim") { Description = "E, the model width.", DefaultValueFactory = _ => 512 };
        var heads = new Option<int>("--heads") { Description = "H, DIFF heads (the baseline gets 2H heads of width d = E/2H).", DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Hkv for grouped-query attention (DIFF count; default: H)." };
        var lens = new Option<string>("--seq-lens") { Description = "Sequence lengths T.", HelpName = "n,n,…", DefaultValueFactory = _ => "512,2048,8192" };
        var batch = new Option<int>("--batch") { Description = "Rows per call (ignored with --tokens).", DefaultValueFactory = _ => 1 };
        var tokens = new Option<int?>("--tokens") { Description = "Keep B·T fixed at this many tokens (B = tokens / T) instead of a fixed batch.", HelpName = "n" };
        var kernels = KernelsOption("explicit,fused,blocked");
        var archs = new Option<string>("--archs") { Description = "Architectures to compare.", HelpName = "diff,transformer", DefaultValueFactory = _ => "diff,transformer" };
        var maxExplicit = new Option<int>("--max-explicit") { Description = "Longest T for the explicit kernel (it materialises every T×T map).", DefaultValueFactory = _ => 2048 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, in rotating order; the tables show medians.", DefaultValueFactory = _ => 3 };
        var noForward = new Option<bool>("--no-forward") { Description = "Time forward+backward only." };
        var plot = new Option<string?>("--plot") { Description = "Write PREFIX-throughput.png and PREFIX-memory.png.", HelpName = "prefix" };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and inputs.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { embed, heads, kvHeads, lens, batch, tokens, kernels, archs, maxExplicit, repeats, noForward, plot, seed }) cmd.Add(o);
        var runtime = new RuntimeOptions();
        runtime.AddThreadsTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            runtime.ApplyThreads(parse);
            var options = new AttentionBenchmarkOptions
            {
                EmbedDim = parse.GetValue(embed),
                Heads = parse.GetValue(heads),
                KvHeads = parse.GetValue(kvHeads),
                SeqLens = ParseIntList(parse.GetValue(lens)!, "--seq-lens"),
                Batch = parse.GetValue(batch),
                TokensPerCall = parse.GetValue(tokens),
                Kernels = ParseList(parse.GetValue(kernels)!, RuntimeOptions.ParseKernel),
                Archs = ParseList(parse.GetValue(archs)!, ParseArch),
                MaxExplicitLen = parse.GetValue(maxExplicit),
                Repeats = parse.GetValue(repeats),
                ForwardOnly = !parse.GetValue(noForward),
                Seed = parse.GetValue(seed),
            };
            // the layer shape's checks (E divisible into heads, Hkv dividing H), before any weights exist
            new ModelConfig { EmbedDim = options.EmbedDim, NumHeads = options.Heads, NumKvHeads = options.KvHeads }.Validate();
            var result = AttentionBenchmark.Run(options, Progress(parse), CancellationToken.None);
            var stdout = parse.Stdout();
            stdout.Write(result.ToMarkdown(CommandLine(parse)));
            if (parse.GetValue(plot) is string prefix)
                foreach (var path in AttentionPlot.Write(prefix, result)) stdout.WriteLine($"plot: {path}");
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- bench model ----

    private static Command CreateModel()
    {
        var cmd = new Command("model", "The whole model, DIFF against the Transformer: training-step and prefill tokens/s per attention kernel, and the training step's GFLOP/s as a fraction of a bare float32 GEMM measured alongside.");
        var config = new ConfigOptions();
        config.AddTo(cmd);
        var batch = new Option<int>("--batch") { Description = "Rows per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row (T).", DefaultValueFactory = _ => 1024 };
        var kernels = KernelsOption("fused,blocked");
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, in rotating order; the tables show medians.", DefaultValueFactory = _ => 3 };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and tokens.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { batch, seqLen, kernels, repeats, seed }) cmd.Add(o);
        var runtime = new RuntimeOptions();
        runtime.AddThreadsTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            runtime.ApplyThreads(parse);
            var (cfg, name) = config.Resolve(parse);
            var options = new ModelBenchmarkOptions
            {
                Config = cfg,
                Batch = parse.GetValue(batch),
                SeqLen = parse.GetValue(seqLen),
                Kernels = ParseList(parse.GetValue(kernels)!, RuntimeOptions.ParseKernel),
                Repeats = parse.GetValue(repeats),
                Seed = parse.GetValue(seed),
            };
            var result = ModelBenchmark.Run(options, Progress(parse), CancellationToken.None);
            parse.Stdout().Write(result.ToMarkdown(name, CommandLine(parse)));
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- bench profile ----

    private static Command CreateProfile()
    {
        var cmd = new Command("profile", "Where a training step's time goes: each piece of the model timed alone (forward+backward) with its shapes in the model, times how often a step runs it.");
        var config = new ConfigOptions();
        config.AddTo(cmd);
        var batch = new Option<int>("--batch") { Description = "Rows per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row (T).", DefaultValueFactory = _ => 1024 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each times every piece once, in rotating order; the table shows medians.", DefaultValueFactory = _ => 5 };
        foreach (var o in new Option[] { batch, seqLen, repeats }) cmd.Add(o);
        var runtime = new RuntimeOptions();
        runtime.AddThreadsTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            runtime.ApplyThreads(parse);
            var (cfg, name) = config.Resolve(parse);
            var options = new StepProfileOptions { Config = cfg, Batch = parse.GetValue(batch), SeqLen = parse.GetValue(seqLen), Repeats = parse.GetValue(repeats) };
            var result = StepProfile.Run(options, Progress(parse), CancellationToken.None);
            parse.Stdout().Write(result.ToMarkdown(name, CommandLine(parse)));
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- shared by the subcommands ----

    private static Option<string> KernelsOption(string defaults) => new("--kernels")
    {
        Description = $"Attention kernels to compare ({string.Join(", ", RuntimeOptions.Kernels)}).",
        HelpName = "k,k,…",
        DefaultValueFactory = _ => defaults,
    };

    /// <summary>The command line as typed, to head a report.</summary>
    private static string CommandLine(ParseResult parse) => BenchEnvironment.CommandLine(parse.Tokens.Select(t => t.Value));

    private static Architecture ParseArch(string name)
    {
        try
        {
            return ArchitectureNames.Parse(name);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static WeightFormat ParseWeights(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" => WeightFormat.Float32,
        "int8" => WeightFormat.Int8,
        _ => throw new UsageException($"unknown weight format '{name}'; known: float32, int8"),
    };

    private static List<T> ParseList<T>(string text, Func<string, T> parse) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).Distinct().ToList();

    /// <summary>A comma-separated list of positive integers, e.g. "128,1024,2048".</summary>
    /// <summary>Refuses a value below 1, naming the option and the value.</summary>
    private static void AtLeastOne(Option<int> option) => option.Validators.Add(result =>
    {
        int n = result.GetValueOrDefault<int>();
        if (n < 1) result.AddError($"{option.Name} must be ≥ 1, got {n}");
    });

    private static int[] ParseIntList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]) || result[i] <= 0)
                throw new UsageException($"{option} expects positive integers separated by commas, got '{text}'");
        return [.. result.Distinct()];
    }

    private static IProgress<string> Progress(ParseResult parse) => new LineProgress(parse.Stderr());

    private sealed class LineProgress(TextWriter stderr) : IProgress<string>
    {
        public void Report(string value) => stderr.WriteLine($"bench: {value}");
    }
}
