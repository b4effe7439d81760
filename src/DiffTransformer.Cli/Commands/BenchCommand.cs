using System.CommandLine;
using System.Globalization;
using DiffTransformer.Benchmarks;
using DiffTransformer.Cli.Common;
using DiffTransformer.Inference;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Cli.Commands;

/// <summary>
/// <c>difft bench &lt;what&gt;</c>: speed measurements, one subcommand each. To add one, write a
/// <c>static Command CreateXxx()</c> below (use <see cref="AddRuntimeOptions"/> and <see cref="ApplyRuntime"/> for the
/// shared --threads/--kernel options) and list it in <see cref="Subcommands"/>.
/// </summary>
public static class BenchCommand
{
    private static readonly Func<Command>[] Subcommands = [CreateDecode, CreateAttention, CreateModel, CreateProfile];

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure speed on this machine (results are markdown tables on stdout, progress on stderr).");
        foreach (var sub in Subcommands) cmd.Add(sub());
        return cmd;
    }

    // ---- options shared by the subcommands ----

    internal sealed record RuntimeOptions(Option<int?> Threads, Option<string> Kernel);

    /// <summary>--threads (libtorch intra-op threads) and --kernel (fused, explicit or blocked attention core).</summary>
    internal static RuntimeOptions AddRuntimeOptions(Command cmd)
    {
        var threads = new Option<int?>("--threads") { Description = "libtorch threads (default: libtorch's choice, usually the core count).", HelpName = "n" };
        var kernel = new Option<string>("--kernel") { Description = "Attention core: fused (scaled_dot_product_attention), explicit, or blocked (our CPU kernel).", HelpName = "fused|explicit|blocked", DefaultValueFactory = _ => "fused" };
        kernel.AcceptOnlyFromAmong("fused", "explicit", "blocked");
        cmd.Add(threads);
        cmd.Add(kernel);
        return new RuntimeOptions(threads, kernel);
    }

    /// <summary>Sets the thread count and returns the attention core chosen.</summary>
    internal static AttentionKernel ApplyRuntime(ParseResult parse, RuntimeOptions o)
    {
        if (parse.GetValue(o.Threads) is int n)
        {
            if (n < 1) throw new UsageException($"--threads must be ≥ 1, got {n}");
            set_num_threads(n);
        }
        return ParseKernel(parse.GetValue(o.Kernel)!);
    }

    /// <summary>Only --threads, for subcommands that run every core themselves.</summary>
    internal static Option<int?> AddThreadsOption(Command cmd)
    {
        var threads = new Option<int?>("--threads") { Description = "libtorch threads, also used by the blocked kernel (default: libtorch's choice, usually the core count).", HelpName = "n" };
        cmd.Add(threads);
        return threads;
    }

    internal static void ApplyThreads(ParseResult parse, Option<int?> threads)
    {
        if (parse.GetValue(threads) is not int n) return;
        if (n < 1) throw new UsageException($"--threads must be ≥ 1, got {n}");
        set_num_threads(n);
    }

    internal static AttentionKernel ParseKernel(string name) => name.Trim().ToLowerInvariant() switch
    {
        "explicit" => AttentionKernel.Explicit,
        "fused" => AttentionKernel.Fused,
        "blocked" => AttentionKernel.Blocked,
        _ => throw new UsageException($"unknown attention core '{name}'; known: explicit, fused, blocked"),
    };

    internal static Architecture ParseArch(string name) => name.Trim().ToLowerInvariant() switch
    {
        "diff" => Architecture.Diff,
        "transformer" => Architecture.Transformer,
        _ => throw new UsageException($"unknown architecture '{name}'; known: diff, transformer"),
    };

    internal static List<T> ParseList<T>(string text, Func<string, T> parse) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).Distinct().ToList();

    /// <summary>A comma-separated list of positive integers, e.g. "128,1024,2048".</summary>
    internal static int[] ParseIntList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]) || result[i] <= 0)
                throw new UsageException($"{option} expects positive integers separated by commas, got '{text}'");
        return result;
    }

    // ---- bench decode ----

    private static Command CreateDecode()
    {
        var cmd = new Command("decode", "Decode tokens/s with the KV cache at several contexts, and without it (recomputing the prefix for every token).");
        var config = new ConfigOptions(defaultPreset: "small");
        config.AddTo(cmd);
        var contexts = new Option<string>("--contexts") { Description = "Contexts for cached decoding (the timed tokens end there).", HelpName = "n,n,…", DefaultValueFactory = _ => "128,1024,2048" };
        var tokens = new Option<int>("--tokens") { Description = "Tokens timed per cached measurement.", DefaultValueFactory = _ => 32 };
        var recompute = new Option<string>("--recompute") { Description = "Contexts for decoding without the cache (empty: none).", HelpName = "n,n,…", DefaultValueFactory = _ => "1024" };
        var recomputeTokens = new Option<int>("--recompute-tokens") { Description = "Tokens timed per recompute measurement.", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, alternating, and the table shows medians.", DefaultValueFactory = _ => 3 };
        var seed = new Option<long>("--seed") { Description = "Seed of the random weights and tokens.", DefaultValueFactory = _ => 0 };
        cmd.Add(contexts);
        cmd.Add(tokens);
        cmd.Add(recompute);
        cmd.Add(recomputeTokens);
        cmd.Add(repeats);
        cmd.Add(seed);
        var runtime = AddRuntimeOptions(cmd);
        CliAction.Set(cmd, parse =>
        {
            var kernel = ApplyRuntime(parse, runtime);
            var (cfg, name) = config.Resolve(parse);
            var options = new DecodeBenchmarkOptions
            {
                Config = cfg,
                Contexts = ParseIntList(parse.GetValue(contexts)!, "--contexts"),
                Tokens = parse.GetValue(tokens),
                RecomputeContexts = string.IsNullOrWhiteSpace(parse.GetValue(recompute)) ? [] : ParseIntList(parse.GetValue(recompute)!, "--recompute"),
                RecomputeTokens = parse.GetValue(recomputeTokens),
                Repeats = parse.GetValue(repeats),
                Kernel = kernel,
                Seed = parse.GetValue(seed),
            };
            var result = DecodeBenchmark.Run(options, new Progress(), CancellationToken.None);
            PrintDecode(result, name);
            return CliAction.Ok;
        });
        return cmd;
    }

    private static void PrintDecode(DecodeBenchmarkResult r, string name)
    {
        var c = r.Options.Config;
        Console.WriteLine($"{name}: {c.Arch.ToString().ToLowerInvariant()}, E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads}, Hkv {c.KvHeads}, vocab {c.VocabSize}; " +
                          $"{r.Options.Kernel.ToString().ToLowerInvariant()} core, {r.Threads} threads, batch 1, float32, median of {r.Options.Repeats}");
        Console.WriteLine();
        Console.WriteLine("| mode | context | tokens timed | ms/token | tokens/s | ms/token per round | prefill tokens/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|---:|");
        foreach (var m in r.Measurements)
        {
            string rounds = string.Join(", ", m.MsPerToken.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)));
            string prefill = m.PrefillMedian is double pf ? pf.ToString("N0", CultureInfo.InvariantCulture) : "–";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {m.Mode} | {m.Context} | {m.Tokens} | {m.Median:F2} | {m.TokensPerSecond:F1} | {rounds} | {prefill} |"));
        }
        Console.WriteLine();
        if (r.ContextGrowth is double g)
        {
            var cached = r.Measurements.Where(m => m.Cached).OrderBy(m => m.Context).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cached per-token time at context {cached[^1].Context} / at {cached[0].Context}: {g:F2}× (target ≤ 2×: {(g <= 2 ? "met" : "missed")})"));
        }
        foreach (var (ctx, s) in r.CacheSpeedups)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cache speed-up at context {ctx} (recompute / cached): {s:F1}× (target ≥ 5×: {(s >= 5 ? "met" : "missed")})"));
    }

    // ---- bench attention ----

    private static Command CreateAttention()
    {
        var cmd = new Command("attention", "One DIFF attention layer against one baseline layer of equal parameters: forward and forward+backward tokens/s and peak memory, per core and sequence length.");
        var embed = new Option<int>("--embed-dim") { Description = "E, the model width.", DefaultValueFactory = _ => 512 };
        var heads = new Option<int>("--heads") { Description = "H, DIFF heads (the baseline gets 2H heads of width d = E/2H).", DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Hkv for grouped-query attention (DIFF count; default: H)." };
        var lens = new Option<string>("--seq-lens") { Description = "Sequence lengths T.", HelpName = "n,n,…", DefaultValueFactory = _ => "512,2048,8192" };
        var batch = new Option<int>("--batch") { Description = "Rows per call (ignored with --tokens).", DefaultValueFactory = _ => 1 };
        var tokens = new Option<int?>("--tokens") { Description = "Keep B·T fixed at this many tokens (B = tokens / T) instead of a fixed batch.", HelpName = "n" };
        var kernels = new Option<string>("--kernels") { Description = "Attention cores to compare.", HelpName = "explicit,fused,blocked", DefaultValueFactory = _ => "explicit,fused,blocked" };
        var archs = new Option<string>("--archs") { Description = "Architectures to compare.", HelpName = "diff,transformer", DefaultValueFactory = _ => "diff,transformer" };
        var maxExplicit = new Option<int>("--max-explicit") { Description = "Longest T for the explicit core (it materialises every T×T map).", DefaultValueFactory = _ => 2048 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, in rotating order; the tables show medians.", DefaultValueFactory = _ => 3 };
        var noForward = new Option<bool>("--no-forward") { Description = "Time forward+backward only." };
        var plot = new Option<string?>("--plot") { Description = "Write PREFIX-throughput.png and PREFIX-memory.png.", HelpName = "prefix" };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and inputs.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { embed, heads, kvHeads, lens, batch, tokens, kernels, archs, maxExplicit, repeats, noForward, plot, seed }) cmd.Add(o);
        var threads = AddThreadsOption(cmd);
        CliAction.Set(cmd, parse =>
        {
            ApplyThreads(parse, threads);
            var options = new AttentionBenchmarkOptions
            {
                EmbedDim = parse.GetValue(embed),
                Heads = parse.GetValue(heads),
                KvHeads = parse.GetValue(kvHeads),
                SeqLens = ParseIntList(parse.GetValue(lens)!, "--seq-lens"),
                Batch = parse.GetValue(batch),
                TokensPerCall = parse.GetValue(tokens),
                Kernels = ParseList(parse.GetValue(kernels)!, ParseKernel),
                Archs = ParseList(parse.GetValue(archs)!, ParseArch),
                MaxExplicitLen = parse.GetValue(maxExplicit),
                Repeats = parse.GetValue(repeats),
                ForwardOnly = !parse.GetValue(noForward),
                Seed = parse.GetValue(seed),
            };
            new ModelConfig { EmbedDim = options.EmbedDim, NumHeads = options.Heads, NumKvHeads = options.KvHeads }.Validate();
            var result = AttentionBenchmark.Run(options, new Progress(), CancellationToken.None);
            PrintAttention(result, parse.Tokens.Select(t => t.Value));
            if (parse.GetValue(plot) is string prefix)
                foreach (var path in AttentionPlot.Write(prefix, result)) Console.WriteLine($"plot: {path}");
            return CliAction.Ok;
        });
        return cmd;
    }

    private static void PrintAttention(AttentionBenchmarkResult r, IEnumerable<string> args)
    {
        var o = r.Options;
        int d = o.EmbedDim / o.Heads / 2;
        PrintHeader(args, r.Machine, r.LoadBefore, r.LoadAfter);
        Console.WriteLine($"layer: E {o.EmbedDim}, DIFF H {o.Heads} (sub-heads d {d}, value 2d {2 * d}) vs baseline {2 * o.Heads} heads of d {d}, " +
                          $"Hkv {o.KvHeads?.ToString(CultureInfo.InvariantCulture) ?? "= H"}; float32; {KernelNames.SimdNote(d, 2 * d)}; {r.Threads} threads; median of {o.Repeats} rounds");
        Console.WriteLine();
        Console.WriteLine("| T | B | architecture | core | mode | tokens/s | ms/call | peak MB | tokens/s per round |");
        Console.WriteLine("|---:|---:|---|---|---|---:|---:|---:|---|");
        foreach (var m in r.Measurements.Where(m => m.Seconds.Count > 0))
        {
            string rounds = string.Join(", ", m.Seconds.Select(s => Fmt.N0(m.Batch * m.SeqLen / s)));
            Console.WriteLine($"| {m.SeqLen} | {m.Batch} | {(m.Arch == Architecture.Diff ? "DIFF" : "baseline")} | {KernelNames.Of(m.Kernel)} | {m.Mode} | " +
                              $"{Fmt.N0(m.TokensPerSecond)} | {Fmt.F1(1000 * m.MedianSeconds)} | {Fmt.Mb(m.PeakBytes)} | {rounds} |");
        }
        Console.WriteLine();
        Console.WriteLine("Ratios of tokens/s, forward+backward (forward alone in brackets); each the median over rounds of the ratio within a round:");
        Console.WriteLine();
        var pairs = new (string Name, Architecture A, AttentionKernel KA, Architecture B, AttentionKernel KB)[]
        {
            ("DIFF blocked / DIFF explicit", Architecture.Diff, AttentionKernel.Blocked, Architecture.Diff, AttentionKernel.Explicit),
            ("DIFF blocked / DIFF fused", Architecture.Diff, AttentionKernel.Blocked, Architecture.Diff, AttentionKernel.Fused),
            ("DIFF fused / DIFF explicit", Architecture.Diff, AttentionKernel.Fused, Architecture.Diff, AttentionKernel.Explicit),
            ("DIFF explicit / baseline explicit", Architecture.Diff, AttentionKernel.Explicit, Architecture.Transformer, AttentionKernel.Explicit),
            ("DIFF fused / baseline fused", Architecture.Diff, AttentionKernel.Fused, Architecture.Transformer, AttentionKernel.Fused),
            ("DIFF blocked / baseline fused", Architecture.Diff, AttentionKernel.Blocked, Architecture.Transformer, AttentionKernel.Fused),
            ("DIFF blocked / baseline blocked", Architecture.Diff, AttentionKernel.Blocked, Architecture.Transformer, AttentionKernel.Blocked),
        };
        var lens = o.SeqLens;
        Console.WriteLine("| ratio | " + string.Join(" | ", lens.Select(t => $"T = {t}")) + " |");
        Console.WriteLine("|---|" + string.Concat(lens.Select(_ => "---:|")));
        foreach (var p in pairs)
        {
            var cells = lens.Select(t =>
            {
                var fb = r.Ratio(r.Find(p.A, p.KA, t, true), r.Find(p.B, p.KB, t, true));
                var f = r.Ratio(r.Find(p.A, p.KA, t, false), r.Find(p.B, p.KB, t, false));
                return fb is double x ? Fmt.Ratio(x) + (f is double y ? $" ({Fmt.Ratio(y)})" : "") : "–";
            }).ToList();
            if (cells.All(c => c == "–")) continue;
            Console.WriteLine($"| {p.Name} | {string.Join(" | ", cells)} |");
        }
        Console.WriteLine();
        var target = r.Ratio(r.Find(Architecture.Diff, AttentionKernel.Blocked, 2048, true), r.Find(Architecture.Diff, AttentionKernel.Explicit, 2048, true));
        if (target is double ratio)
            Console.WriteLine($"target: DIFF layer forward+backward at T = 2048, blocked / explicit = {Fmt.Ratio(ratio)} (≥ 3×: {(ratio >= 3 ? "met" : "missed")})");
        var blockedDiff = r.Measurements.Where(m => m.Arch == Architecture.Diff && m.Kernel == AttentionKernel.Blocked && m.Backward && m.PeakBytes is not null).OrderBy(m => m.SeqLen).ToList();
        if (blockedDiff.Count >= 2)
        {
            var (a, b) = (blockedDiff[0], blockedDiff[^1]);
            double growth = (double)b.PeakBytes!.Value / Math.Max(1, a.PeakBytes!.Value);
            double tokens = (double)b.Batch * b.SeqLen / (a.Batch * a.SeqLen);
            Console.WriteLine($"target: DIFF blocked peak memory T = {a.SeqLen} → {b.SeqLen}: {Fmt.Mb(a.PeakBytes)} → {Fmt.Mb(b.PeakBytes)} MB, ×{Fmt.F2(growth)} for ×{Fmt.F2(tokens)} tokens " +
                              $"(linear: ×{Fmt.F2(tokens)}, quadratic: ×{Fmt.F2(tokens * b.SeqLen / a.SeqLen)}); T = {b.SeqLen} under 2 GB: {(b.PeakBytes < 2L << 30 ? "met" : "missed")}");
        }
    }

    // ---- bench model ----

    private static Command CreateModel()
    {
        var cmd = new Command("model", "The whole model, DIFF against the Transformer: training-step and prefill tokens/s per core, and the training step's GFLOP/s as a fraction of a bare float32 GEMM measured alongside.");
        var config = new ConfigOptions(defaultPreset: "small");
        config.AddTo(cmd);
        var batch = new Option<int>("--batch") { Description = "Rows per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row (T).", DefaultValueFactory = _ => 1024 };
        var kernels = new Option<string>("--kernels") { Description = "Attention cores to compare.", HelpName = "explicit,fused,blocked", DefaultValueFactory = _ => "fused,blocked" };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each runs every measurement once, in rotating order; the tables show medians.", DefaultValueFactory = _ => 3 };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and tokens.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { batch, seqLen, kernels, repeats, seed }) cmd.Add(o);
        var threads = AddThreadsOption(cmd);
        CliAction.Set(cmd, parse =>
        {
            ApplyThreads(parse, threads);
            var (cfg, name) = config.Resolve(parse);
            var options = new ModelBenchmarkOptions
            {
                Config = cfg,
                Batch = parse.GetValue(batch),
                SeqLen = parse.GetValue(seqLen),
                Kernels = ParseList(parse.GetValue(kernels)!, ParseKernel),
                Repeats = parse.GetValue(repeats),
                Seed = parse.GetValue(seed),
            };
            var result = ModelBenchmark.Run(options, new Progress(), CancellationToken.None);
            PrintModel(result, name, parse.Tokens.Select(t => t.Value));
            return CliAction.Ok;
        });
        return cmd;
    }

    private static void PrintModel(ModelBenchmarkResult r, string name, IEnumerable<string> args)
    {
        var c = r.Options.Config;
        PrintHeader(args, r.Machine, r.LoadBefore, r.LoadAfter);
        Console.WriteLine($"{name}: E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads} (d {c.HeadDim}), Hkv {c.KvHeads}, FFN {c.FfnHidden}, vocab {c.VocabSize}; " +
                          $"batch {r.Options.Batch} × T {r.Options.SeqLen} = {r.Tokens:N0} tokens per step; float32; {KernelNames.SimdNote(c.HeadDim, 2 * c.HeadDim)}; {r.Threads} threads; median of {r.Options.Repeats} rounds");
        Console.WriteLine($"reference GEMM (B·T, E) × (E, FFN) = ({r.GemmShape.M}, {r.GemmShape.K}) × ({r.GemmShape.K}, {r.GemmShape.N}), libtorch matmul: {Fmt.F1(r.GemmGflops)} GFLOP/s " +
                          $"(rounds: {string.Join(", ", r.GemmSeconds.Select(s => Fmt.F1(2.0 * r.GemmShape.M * r.GemmShape.K * r.GemmShape.N / s / 1e9)))})");
        Console.WriteLine();
        Console.WriteLine("(% of GEMM: the median over rounds of the step's GFLOP/s over that round's GEMM GFLOP/s.)");
        Console.WriteLine();
        Console.WriteLine("| architecture | core | train tokens/s | prefill tokens/s | train GFLOP/s | % of GEMM | step peak MB | step s per round |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var m in r.Measurements.Where(m => m.StepSeconds.Count > 0))
        {
            double gf = r.TrainGflops(m);
            Console.WriteLine($"| {(m.Arch == Architecture.Diff ? "DIFF" : "Transformer")} | {KernelNames.Of(m.Kernel)} | {Fmt.N0(r.TrainTokensPerSecond(m))} | {Fmt.N0(r.PrefillTokensPerSecond(m))} | " +
                              $"{Fmt.F1(gf)} | {Fmt.F1(100 * r.GemmFraction(m))}% | {Fmt.Mb(m.StepPeakBytes)} | {string.Join(", ", m.StepSeconds.Select(Fmt.F2))} |");
        }
        Console.WriteLine();
        double FlopsM(Architecture a) => FlopCount.TrainingStep(c with { Arch = a }, r.Options.Batch, r.Options.SeqLen) / 1e9;
        Console.WriteLine($"model FLOPs per training step (3 × forward, causal attention pairs T(T+1)/2): {Fmt.F1(FlopsM(Architecture.Diff))} GFLOP for both architectures");
        Console.WriteLine();
        Console.WriteLine("Ratios of tokens/s: the median over rounds of the ratio within each round (its range beside it).");
        Console.WriteLine();
        Console.WriteLine("| ratio | train tokens/s | per-round range | prefill tokens/s |");
        Console.WriteLine("|---|---:|---|---:|");
        void Row(string label, ModelMeasurement? a, ModelMeasurement? b)
        {
            if (a is null || b is null) return;
            var (lo, hi) = Paired.Range(b.StepSeconds, a.StepSeconds);
            Console.WriteLine($"| {label} | {Fmt.Ratio(Paired.Ratio(b.StepSeconds, a.StepSeconds))} | {Fmt.F2(lo)}–{Fmt.F2(hi)} | {Fmt.Ratio(Paired.Ratio(b.PrefillSeconds, a.PrefillSeconds))} |");
        }
        foreach (var k in r.Options.Kernels)
            Row($"DIFF {KernelNames.Of(k)} / Transformer {KernelNames.Of(k)}", r.Find(Architecture.Diff, k), r.Find(Architecture.Transformer, k));
        Row("DIFF blocked / Transformer fused", r.Find(Architecture.Diff, AttentionKernel.Blocked), r.Find(Architecture.Transformer, AttentionKernel.Fused));
        Row("DIFF blocked / DIFF fused", r.Find(Architecture.Diff, AttentionKernel.Blocked), r.Find(Architecture.Diff, AttentionKernel.Fused));
        Console.WriteLine();
        ModelMeasurement? Best(Architecture a) => r.Measurements.Where(m => m.Arch == a && m.StepSeconds.Count > 0).MinBy(m => m.StepMedian);
        if (Best(Architecture.Diff) is { } bd && Best(Architecture.Transformer) is { } bt)
        {
            double ratio = Paired.Ratio(bt.StepSeconds, bd.StepSeconds);
            Console.WriteLine($"target: training tokens/s, DIFF ({KernelNames.Of(bd.Kernel)}) / Transformer ({KernelNames.Of(bt.Kernel)}), each on its fastest core = {Fmt.Ratio(ratio)} (≥ 0.95×: {(ratio >= 0.95 ? "met" : "missed")})");
            double frac = r.GemmFraction(bd);
            Console.WriteLine($"target: DIFF training step {Fmt.F1(r.TrainGflops(bd))} GFLOP/s = {Fmt.F1(100 * frac)}% of the bare GEMM's {Fmt.F1(r.GemmGflops)} (≥ 50%: {(frac >= 0.5 ? "met" : "missed")})");
        }
    }

    // ---- bench profile ----

    private static Command CreateProfile()
    {
        var cmd = new Command("profile", "Where a training step's time goes: each piece of the model timed alone (forward+backward) with its shapes in the model, times how often a step runs it.");
        var config = new ConfigOptions(defaultPreset: "small");
        config.AddTo(cmd);
        var batch = new Option<int>("--batch") { Description = "Rows per step.", DefaultValueFactory = _ => 4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row (T).", DefaultValueFactory = _ => 1024 };
        var repeats = new Option<int>("--repeats") { Description = "Rounds; each times every piece once, in rotating order; the table shows medians.", DefaultValueFactory = _ => 5 };
        foreach (var o in new Option[] { batch, seqLen, repeats }) cmd.Add(o);
        var threads = AddThreadsOption(cmd);
        CliAction.Set(cmd, parse =>
        {
            ApplyThreads(parse, threads);
            var (cfg, name) = config.Resolve(parse);
            var options = new StepProfileOptions { Config = cfg, Batch = parse.GetValue(batch), SeqLen = parse.GetValue(seqLen), Repeats = parse.GetValue(repeats) };
            var result = StepProfile.Run(options, new Progress(), CancellationToken.None);
            PrintProfile(result, name, parse.Tokens.Select(t => t.Value));
            return CliAction.Ok;
        });
        return cmd;
    }

    private static void PrintProfile(StepProfileResult r, string name, IEnumerable<string> args)
    {
        var c = r.Options.Config;
        PrintHeader(args, r.Machine, r.LoadBefore, r.LoadAfter);
        Console.WriteLine($"{name}: E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads} (d {c.HeadDim}), FFN {c.FfnHidden}, vocab {c.VocabSize}; batch {r.Options.Batch} × T {r.Options.SeqLen}; " +
                          $"{r.Threads} threads; median of {r.Options.Repeats} rounds; every piece forward+backward unless named otherwise");
        Console.WriteLine();
        Console.WriteLine("| group | piece | ms per call | calls per step | ms per step |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        foreach (var i in r.Items)
            Console.WriteLine($"| {i.Group} | {i.Name} | {Fmt.F1(1000 * i.Median)} | {i.PerStep} | {Fmt.N0(1000 * i.Median * i.PerStep)} |");
        Console.WriteLine();
        double Ms(string n) => 1000 * r.Items.First(i => i.Name == n).Median * r.Items.First(i => i.Name == n).PerStep;
        double rest = Ms("SwiGLU") + Ms("RMSNorm (×2 per layer, +1)") + Ms("residual add (×2 per layer)") + Ms("LM head + cross-entropy") + Ms("AdamW: clip + update + zero");
        Console.WriteLine("A step assembled from the pieces (attention layers + everything else):");
        Console.WriteLine();
        Console.WriteLine("| attention | attention ms per step | everything else ms | step ms (sum) | attention share |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var n in new[] { "DIFF, blocked core", "DIFF, fused core (2 SDPA calls)", "Transformer, fused core (SDPA)", "Transformer, blocked core" })
        {
            double a = Ms(n);
            Console.WriteLine($"| {n} | {Fmt.N0(a)} | {Fmt.N0(rest)} | {Fmt.N0(a + rest)} | {Fmt.F1(100 * a / (a + rest))}% |");
        }
    }

    /// <summary>What every bench table is headed by: the command to rerun it, the machine, the load around the run.</summary>
    private static void PrintHeader(IEnumerable<string> args, string machine, string loadBefore, string loadAfter)
    {
        Console.WriteLine($"command: {BenchEnvironment.CommandLine(args)}");
        Console.WriteLine($"machine: {machine}");
        Console.WriteLine($"load average before / after: {loadBefore} / {loadAfter}");
    }

    private sealed class Progress : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine($"bench: {value}");
    }
}
