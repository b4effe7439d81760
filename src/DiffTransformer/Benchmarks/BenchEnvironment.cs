using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DiffTransformer.Kernels;
using static TorchSharp.torch;

namespace DiffTransformer.Benchmarks;

/// <summary>What a benchmark result needs to be read and rerun: the machine, the threads, its load, the command.</summary>
public static class BenchEnvironment
{
    /// <summary>One line: CPU model, cores, SIMD, libtorch threads, .NET and TorchSharp versions.</summary>
    public static string Describe()
    {
        string simd = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "no AVX2";
        string torchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3) ?? "?";
        return $"{CpuModel()} ({CpuFamily()}), {Environment.ProcessorCount} logical CPUs, {simd}; " +
               $"libtorch {get_num_threads()} threads; .NET {Environment.Version}, TorchSharp {torchSharp}, {RuntimeInformation.OSDescription}";
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux), e.g. "5.12 5.30 4.94"; "n/a" elsewhere.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(" ", parts.Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    /// <summary>The command line as typed, with the program named <c>difft</c>.</summary>
    public static string CommandLine(IEnumerable<string> args) =>
        "difft " + string.Join(" ", args.Select(a => a.Contains(' ') || a.Length == 0 ? $"'{a}'" : a));

    private static string CpuModel() => CpuInfo("model name") ?? RuntimeInformation.ProcessArchitecture.ToString();

    private static string CpuFamily()
    {
        string? family = CpuInfo("cpu family"), model = CpuInfo("model");
        if (family is null) return "family unknown";
        return family == "26" ? $"family {family} model {model}: Zen 5" : $"family {family} model {model}";
    }

    private static string? CpuInfo(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line[..colon].Trim() == key) return line[(colon + 1)..].Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }
}

/// <summary>
/// Peak memory of one call, as the growth of the process's resident set: glibc's cached free memory is returned to
/// the system first (<c>malloc_trim</c>), the kernel's high-water mark is reset (<c>/proc/self/clear_refs</c>), the call
/// runs, and the result is the high-water mark minus the resident size before. It counts every byte the call touched
/// and had not freed to the system: libtorch's tensors, our kernel's scratch, the managed heap. Linux only.
/// </summary>
public static partial class PeakMemory
{
    public static bool Available { get; } = Probe();

    /// <summary>Bytes by which the resident set grew at its peak during <paramref name="action"/>; null where unsupported.</summary>
    public static long? Measure(Action action)
    {
        if (!Available)
        {
            action();
            return null;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        MallocTrim(0);
        File.WriteAllText("/proc/self/clear_refs", "5");              // 5: reset the peak RSS to the current RSS
        long before = StatusKb("VmRSS");
        action();
        long peak = StatusKb("VmHWM");
        return Math.Max(0, peak - before) * 1024;
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            MallocTrim(0);
            return StatusKb("VmHWM") > 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static long StatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}

/// <summary>Markdown number formatting shared by the bench tables.</summary>
public static class Fmt
{
    public static string N0(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
    public static string F1(double x) => x.ToString("F1", CultureInfo.InvariantCulture);
    public static string F2(double x) => x.ToString("F2", CultureInfo.InvariantCulture);
    public static string Mb(long? bytes) => bytes is long b ? (b / 1048576.0).ToString("N0", CultureInfo.InvariantCulture) : "n/a";
    public static string Ratio(double x) => x.ToString("F2", CultureInfo.InvariantCulture) + "×";
}

/// <summary>Reports which kernel runs, so a table can say so.</summary>
public static class KernelNames
{
    public static string Of(Model.AttentionKernel k) => k.ToString().ToLowerInvariant();

    public static string SimdNote(int headDim, int valueDim) => BlockedAttention.WidthFor(headDim, valueDim) switch
    {
        16 => "blocked kernel on AVX-512",
        8 => "blocked kernel on AVX2",
        _ => "blocked kernel unavailable for these widths (falls back to fused)",
    };
}
