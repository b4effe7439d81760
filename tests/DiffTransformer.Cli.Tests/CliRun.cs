using System.CommandLine;

namespace DiffTransformer.Cli.Tests;

/// <summary>One in-process run of <c>difft</c>: its exit code and what it wrote.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public static CliRun Of(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Run(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The repository's root, found upwards from the test assembly.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DiffTransformer.slnx"))) return d.FullName;
        throw new FileNotFoundException("DiffTransformer.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>stderr's lines, without the empty ones.</summary>
    public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Every verb, as the words that name it (bench's verbs are subcommands).</summary>
    public static IEnumerable<string[]> Verbs()
    {
        foreach (var command in Cli.CreateRoot().Subcommands)
        {
            if (command.Subcommands.Count == 0) yield return [command.Name];
            foreach (var sub in command.Subcommands) yield return [command.Name, sub.Name];
        }
    }

    /// <summary>The command the words name, in a fresh tree.</summary>
    public static Command Find(string[] verb)
    {
        Command command = Cli.CreateRoot();
        foreach (var word in verb) command = command.Subcommands.Single(c => c.Name == word);
        return command;
    }

    /// <summary>The verbs as typed, e.g. "bench model"; those that take <paramref name="option"/> when it is given.</summary>
    public static List<string> VerbNames(string? option = null) =>
        Verbs().Where(v => option is null || Find(v).Options.Any(o => o.Name == option)).Select(v => string.Join(' ', v)).ToList();
}
