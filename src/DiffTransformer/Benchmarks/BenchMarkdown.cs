namespace DiffTransformer.Benchmarks;

/// <summary>Pieces every bench report shares.</summary>
internal static class BenchMarkdown
{
    /// <summary>What a table is headed by: the command to rerun it, the machine, the load around the run.</summary>
    public static void Header(TextWriter w, string command, string machine, string loadBefore, string loadAfter)
    {
        w.WriteLine($"command: {command}");
        w.WriteLine($"machine: {machine}");
        w.WriteLine($"load average before / after: {loadBefore} / {loadAfter}");
    }

    /// <summary>"DIFF" for the differential architecture, else the baseline's name in that report.</summary>
    public static string ArchLabel(Model.Architecture arch, string baseline) => arch == Model.Architecture.Diff ? "DIFF" : baseline;
}
