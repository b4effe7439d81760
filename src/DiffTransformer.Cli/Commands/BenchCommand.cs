using System.CommandLine;
using System.Globalization;
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
    private static readonly Func<Command>[] Subcommands = [CreateDecode];

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure speed on this machine (results are markdown tables on stdout, progress on stderr).");
        foreach (var sub in Subcommands) cmd.Add(sub());
        return cmd;
    }

    // ---- options shared by the subcommands ----

    internal sealed record RuntimeOptions(Option<int?> Threads, Option<string> Kernel);

    /// <summary>--threads (libtorch intra-op threads) and --kernel (fused or explicit attention core).</summary>
    internal static RuntimeOptions AddRuntimeOptions(Command cmd)
    {
        var threads = new Option<int?>("--threads") { Description = "libtorch threads (default: libtorch's choice, usually the core count).", HelpName = "n" };
        var kernel = new Option<string>("--kernel") { Description = "Attention core: fused (scaled_dot_product_attention) or explicit.", HelpName = "fused|explicit", DefaultValueFactory = _ => "fused" };
        kernel.AcceptOnlyFromAmong("fused", "explicit");
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
        return parse.GetValue(o.Kernel) == "explicit" ? AttentionKernel.Explicit : AttentionKernel.Fused;
    }

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

    private sealed class Progress : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine($"bench: {value}");
    }
}
