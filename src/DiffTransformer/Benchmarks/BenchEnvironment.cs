using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
