namespace DiffTransformer.Model;

/// <summary>The names of the architectures, one place for every table, log line and option.</summary>
public static class ArchitectureNames
{
    /// <summary>Every architecture, in the order tables list them.</summary>
    public static IReadOnlyList<Architecture> All { get; } = [Architecture.Diff, Architecture.Transformer, Architecture.Diff2];

    /// <summary>The configuration's and the command line's name: diff, transformer, diff2.</summary>
    public static string Name(Architecture a) => a switch
    {
        Architecture.Diff => "diff",
        Architecture.Transformer => "transformer",
        Architecture.Diff2 => "diff2",
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "unknown architecture"),
    };

    /// <summary>A table's heading: DIFF, Transformer, DIFF V2.</summary>
    public static string Label(Architecture a) => a switch
    {
        Architecture.Diff => "DIFF",
        Architecture.Transformer => "Transformer",
        Architecture.Diff2 => "DIFF V2",
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "unknown architecture"),
    };

    /// <summary>The architecture called <paramref name="name"/>; the message lists the known names.</summary>
    public static Architecture Parse(string name) =>
        All.Where(a => Name(a) == name.Trim().ToLowerInvariant()).Select(a => (Architecture?)a).FirstOrDefault()
        ?? throw new ArgumentException($"unknown architecture '{name}' (known: {string.Join(", ", All.Select(Name))})");
}
