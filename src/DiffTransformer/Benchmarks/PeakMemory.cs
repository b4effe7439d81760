using System.Globalization;
using System.Runtime.InteropServices;

namespace DiffTransformer.Benchmarks;

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
