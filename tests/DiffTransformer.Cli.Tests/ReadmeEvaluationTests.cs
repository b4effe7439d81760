using System.Text;

namespace DiffTransformer.Cli.Tests;

/// <summary>
/// README's "Evaluating a model" commands, run as written in a fresh working directory — except that a training
/// command's <c>--steps</c> becomes 2 and <c>eval icl</c> asks 1 demonstration set of 2 queries a point and 1 fixed set in
/// 2 orders (the README's budgets take minutes to an hour; what is checked here is that the commands work together and
/// write what the section says, not the figures, which docs/results/ records).
/// </summary>
public sealed class ReadmeEvaluationTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("difft-readme-eval-").FullName;
    private readonly string previous = Environment.CurrentDirectory;

    public ReadmeEvaluationTests() => Environment.CurrentDirectory = root;   // the CLI tests run one at a time (AssemblyInfo.cs)

    public void Dispose()
    {
        Environment.CurrentDirectory = previous;
        Directory.Delete(root, recursive: true);
    }

    /// <summary>The repository's root, found upwards from the test assembly.</summary>
    internal static string RepoRoot() => CliRun.RepoRoot();

    private static string Readme() => File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));

    /// <summary>Runs one README command line (without "difft"), a training command with --steps 2; fails naming the line.</summary>
    private static void RunAsWritten(string line, IEnumerable<string> words)
    {
        var args = words.ToList();
        if (args[0] is "train" or "compare")
        {
            int s = args.IndexOf("--steps");
            if (s >= 0) args[s + 1] = "2"; else args.AddRange(["--steps", "2"]);
        }
        if (args[0] == "eval" && args[1] == "icl") args.AddRange(["--sets", "1", "--queries", "2", "--order-sets", "1", "--orders", "2"]);
        var run = CliRun.Of([.. args]);
        Assert.True(run.ExitCode == 0, $"{line}\nexit {run.ExitCode}\n{run.Stderr}");
        if (args[0] == "eval")
        {
            string outDir = args[args.IndexOf("--out") + 1];
            Assert.True(File.Exists(Path.Combine(outDir, args[1] + ".json")), $"{line}: no {args[1]}.json in {outDir}");
            Assert.True(File.Exists(Path.Combine(outDir, args[1] + ".md")), $"{line}: no {args[1]}.md in {outDir}");
        }
    }

    /// <summary>The <c>difft</c> lines of the first code block under the heading, comments cut.</summary>
    internal static List<string> Commands(string readme, string heading)
    {
        int h = readme.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(h >= 0, $"README has no '{heading}'");
        int start = readme.IndexOf("```\n", h, StringComparison.Ordinal) + 4;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return readme[start..end].Split('\n').Select(l => (l.Contains(" # ") ? l[..l.IndexOf(" # ", StringComparison.Ordinal)] : l).Trim())
            .Where(l => l.StartsWith("difft ", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Splits a command line as a POSIX shell would for these commands: spaces, and double quotes around a word.</summary>
    internal static List<string> Words(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in line)
        {
            if (c == '"') { quoted = !quoted; any = true; }
            else if (c == ' ' && !quoted) { if (any) words.Add(word.ToString()); word.Clear(); any = false; }
            else { word.Append(c); any = true; }
        }
        if (any) words.Add(word.ToString());
        return words;
    }

    [Fact]
    public void TheEvaluationCommandsRunAsWritten()
    {
        var commands = Commands(Readme(), "## Evaluating a model");
        Assert.Contains(commands, c => c.StartsWith("difft eval faithfulness", StringComparison.Ordinal));
        foreach (var suite in new[] { "lm", "needle", "attention", "faithfulness", "outliers", "quant", "icl" })
            Assert.Contains(commands, c => c.StartsWith($"difft eval {suite} ", StringComparison.Ordinal));
        // the working directory of a clone: the shipped corpus, and the model README's first command trains
        Directory.CreateDirectory("corpora");
        foreach (var f in Directory.GetFiles(Path.Combine(RepoRoot(), "corpora"))) File.Copy(f, Path.Combine("corpora", Path.GetFileName(f)));
        string first = Readme().Split('\n').First(l => l.StartsWith("dotnet run --project src/DiffTransformer.Cli -- ", StringComparison.Ordinal));
        RunAsWritten(first, Words(first).SkipWhile(w => w != "--").Skip(1));
        foreach (var line in commands) RunAsWritten(line, Words(line).Skip(1));
    }

    [Fact]
    public void TheStudyCommandsRunAsWritten()
    {
        var commands = Commands(Readme(), "## The replication study");
        Assert.Equal(2, commands.Count);
        // a clone's plans, and the corpora their paths name (relative to the plan's folder)
        foreach (var dir in new[] { "study/plans", "corpora" })
        {
            Directory.CreateDirectory(dir);
            foreach (var f in Directory.GetFiles(Path.Combine(RepoRoot(), dir))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        }
        var smoke = CliRun.Of([.. Words(commands[0]).Skip(1)]);
        Assert.True(smoke.ExitCode == 0, $"{commands[0]}\nexit {smoke.ExitCode}\n{smoke.Stderr}");
        Assert.Contains("2 of 2 units done", smoke.Stdout);
        string report = File.ReadAllText(Path.Combine("runs", "study-smoke", "report.md"));
        Assert.Contains("| train: final validation loss |", report);
        Assert.Contains("| needle: accuracy |", report);
        var again = CliRun.Of([.. Words(commands[0]).Skip(1)]);              // resumed: nothing left to run, the same report
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("recall/seed-2: done", again.Stderr);
        Assert.Equal(report, File.ReadAllText(Path.Combine("runs", "study-smoke", "report.md")));
        var status = CliRun.Of([.. Words(commands[1]).Skip(1)]);
        Assert.True(status.ExitCode == 0, $"{commands[1]}\nexit {status.ExitCode}\n{status.Stderr}");
        Assert.Contains("lm-1m/seed-1", status.Stdout);
        Assert.Contains("estimated time left", status.Stdout);
    }

    [Fact]
    public void WordsAreSplitLikeAShellWould() =>
        Assert.Equal(["generate", "-m", "m", "a b", "--x"], Words("generate -m m \"a b\"  --x"));
}
