namespace DiffTransformer.Cli.Tests;

public sealed class HelpTests
{
    public static TheoryData<string> Verbs => new(CliRun.VerbNames());

    [Fact]
    public void EveryVerbIsListed()
    {
        Assert.Equal(["info", "import", "export", "quantize", "prepare", "generate", "serve", "bench decode", "bench serve", "bench attention", "bench model", "bench profile", "train", "compare", "eval lm", "eval needle", "eval attention", "eval faithfulness", "eval outliers", "eval quant", "eval icl", "study"], CliRun.VerbNames());
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void HelpExitsZeroAndMentionsEveryOption(string verb)
    {
        string[] words = verb.Split(' ');
        var run = CliRun.Of([.. words, "--help"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stderr);
        var options = CliRun.Find(words).Options;
        Assert.NotEmpty(options);
        foreach (var option in options) Assert.Contains(option.Name, run.Stdout);
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void EveryOptionHasHelpText(string verb)
    {
        foreach (var option in CliRun.Find(verb.Split(' ')).Options)
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{verb} {option.Name} has no help text");
    }

    [Fact]
    public void RootHelpListsTheVerbs()
    {
        var run = CliRun.Of("--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var verb in new[] { "info", "import", "export", "prepare", "generate", "serve", "bench", "train", "compare" }) Assert.Contains(verb, run.Stdout);
    }

    [Fact]
    public void KernelHelpSaysAttentionKernelAndListsTheKernels()
    {
        foreach (var verb in new[] { "train", "compare", "generate", "serve", "bench decode" })
        {
            string help = CliRun.Of([.. verb.Split(' '), "--help"]).Stdout;
            string line = help.Split('\n').Single(l => l.TrimStart().StartsWith("--kernel ", StringComparison.Ordinal));
            Assert.Contains("<blocked|fused|explicit>", line);
            Assert.Contains("Attention kernel", line);
            Assert.DoesNotContain("core", line);
            Assert.DoesNotContain("×", line);   // no measured speed-ups in help
        }
    }
}
