using System.Globalization;
using DiffTransformer.Model;

namespace DiffTransformer.Benchmarks;

public sealed record AttentionBenchmarkResult(AttentionBenchmarkOptions Options, IReadOnlyList<AttentionMeasurement> Measurements,
    int Threads, string Machine, string LoadBefore, string LoadAfter)
{
    public AttentionMeasurement? Find(Architecture arch, AttentionKernel kernel, int t, bool backward) =>
        Measurements.FirstOrDefault(m => m.Arch == arch && m.Kernel == kernel && m.SeqLen == t && m.Backward == backward && m.Seconds.Count > 0);

    /// <summary>
    /// tokens/s of a over tokens/s of b, when both were measured: the median over rounds of the ratio within each
    /// round (the two ran minutes apart at most, under similar load), which a neighbour's load disturbs less than a
    /// ratio of medians.
    /// </summary>
    public double? Ratio(AttentionMeasurement? a, AttentionMeasurement? b) => a is null || b is null ? null : Paired.Ratio(b.Seconds, a.Seconds);

    /// <summary>The ratios the report tabulates: numerator and denominator, each an architecture on a kernel.</summary>
    public static IReadOnlyList<((Architecture Arch, AttentionKernel Kernel) A, (Architecture Arch, AttentionKernel Kernel) B)> RatioPairs { get; } =
    [
        ((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Diff, AttentionKernel.Explicit)),
        ((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Diff, AttentionKernel.Fused)),
        ((Architecture.Diff, AttentionKernel.Fused), (Architecture.Diff, AttentionKernel.Explicit)),
        ((Architecture.Diff, AttentionKernel.Explicit), (Architecture.Transformer, AttentionKernel.Explicit)),
        ((Architecture.Diff, AttentionKernel.Fused), (Architecture.Transformer, AttentionKernel.Fused)),
        ((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Transformer, AttentionKernel.Fused)),
        ((Architecture.Diff, AttentionKernel.Blocked), (Architecture.Transformer, AttentionKernel.Blocked)),
    ];

    /// <summary>The report <c>difft bench attention</c> prints, headed by <paramref name="command"/> (the command line that reruns it).</summary>
    public string ToMarkdown(string command)
    {
        var w = new StringWriter();
        var o = Options;
        int d = o.EmbedDim / o.Heads / 2;
        BenchMarkdown.Header(w, command, Machine, LoadBefore, LoadAfter);
        w.WriteLine($"layer: E {o.EmbedDim}, DIFF H {o.Heads} (sub-heads d {d}, value 2d {2 * d}) vs baseline {2 * o.Heads} heads of d {d}, " +
                    $"Hkv {o.KvHeads?.ToString(CultureInfo.InvariantCulture) ?? "= H"}; float32; {KernelNames.SimdNote(d, 2 * d)}; {Threads} threads; median of {o.Repeats} rounds");
        w.WriteLine();
        w.WriteLine("| T | B | architecture | core | mode | tokens/s | ms/call | peak MB | tokens/s per round |");
        w.WriteLine("|---:|---:|---|---|---|---:|---:|---:|---|");
        foreach (var m in Measurements.Where(m => m.Seconds.Count > 0))
        {
            string rounds = string.Join(", ", m.Seconds.Select(s => Fmt.N0(m.Batch * m.SeqLen / s)));
            w.WriteLine($"| {m.SeqLen} | {m.Batch} | {Label(m.Arch)} | {KernelNames.Of(m.Kernel)} | {m.Mode} | " +
                        $"{Fmt.N0(m.TokensPerSecond)} | {Fmt.F1(1000 * m.MedianSeconds)} | {Fmt.Mb(m.PeakBytes)} | {rounds} |");
        }
        w.WriteLine();
        w.WriteLine("Ratios of tokens/s, forward+backward (forward alone in brackets); each the median over rounds of the ratio within a round:");
        w.WriteLine();
        var lens = o.SeqLens;
        w.WriteLine("| ratio | " + string.Join(" | ", lens.Select(t => $"T = {t}")) + " |");
        w.WriteLine("|---|" + string.Concat(lens.Select(_ => "---:|")));
        foreach (var (a, b) in RatioPairs)
        {
            var cells = lens.Select(t =>
            {
                var fb = Ratio(Find(a.Arch, a.Kernel, t, true), Find(b.Arch, b.Kernel, t, true));
                var f = Ratio(Find(a.Arch, a.Kernel, t, false), Find(b.Arch, b.Kernel, t, false));
                return fb is double x ? Fmt.Ratio(x) + (f is double y ? $" ({Fmt.Ratio(y)})" : "") : "–";
            }).ToList();
            if (cells.All(c => c == "–")) continue;
            w.WriteLine($"| {Label(a.Arch)} {KernelNames.Of(a.Kernel)} / {Label(b.Arch)} {KernelNames.Of(b.Kernel)} | {string.Join(" | ", cells)} |");
        }
        w.WriteLine();
        return w.ToString();
    }

    private static string Label(Architecture arch) => BenchMarkdown.ArchLabel(arch, "baseline");
}
