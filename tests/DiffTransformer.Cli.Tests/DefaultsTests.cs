using System.CommandLine;

namespace DiffTransformer.Cli.Tests;

/// <summary>One rule for the shared options: --kernel blocked, --threads all cores, --preset tiny, in every verb that has them.</summary>
public sealed class DefaultsTests
{
    public static TheoryData<string> VerbsWith(string option) => new(CliRun.VerbNames(option));

    /// <summary>What the option parses to when the command line leaves it out (with the verb's required arguments only).</summary>
    private static T Default<T>(string verb, string option)
    {
        string[] required = verb switch
        {
            "generate" or "serve" => ["-m", "some-model"],
            "prepare" => ["corpus.txt", "-o", "out"],
            "eval lm" or "eval outliers" or "eval quant" => ["held-out.txt", "-m", "some-model"],
            "eval needle" or "eval attention" or "eval faithfulness" or "eval icl" => ["-m", "some-model"],
            "study" => ["--plan", "plan.json"],
            _ => [],
        };
        var parse = Cli.CreateRoot().Parse([.. verb.Split(' '), .. required]);
        Assert.Empty(parse.Errors);
        Assert.Equal(verb.Split(' ')[^1], parse.CommandResult.Command.Name);
        var o = Assert.IsType<Option<T>>(parse.CommandResult.Command.Options.Single(x => x.Name == option), exactMatch: false);
        return parse.GetValue(o)!;
    }

    [Theory]
    [MemberData(nameof(VerbsWith), "--kernel")]
    public void KernelIsBlocked(string verb) => Assert.Equal("blocked", Default<string>(verb, "--kernel"));

    [Theory]
    [MemberData(nameof(VerbsWith), "--threads")]
    public void ThreadsAreAllCores(string verb) => Assert.Equal(Environment.ProcessorCount, Default<int>(verb, "--threads"));

    [Theory]
    [MemberData(nameof(VerbsWith), "--preset")]
    public void PresetIsTiny(string verb) => Assert.Equal("tiny", Default<string>(verb, "--preset"));

    [Fact]
    public void TheVerbsThatTakeEachOption()
    {
        Assert.Equal(["generate", "serve", "bench decode", "bench serve", "train", "compare", "eval lm", "eval needle", "eval attention", "eval faithfulness", "eval outliers", "eval quant", "eval icl", "study"], CliRun.VerbNames("--kernel"));
        Assert.Equal(["info", "bench decode", "bench serve", "bench model", "bench profile", "train", "compare"], CliRun.VerbNames("--preset"));
        Assert.Equal(["prepare", "generate", "serve", "bench decode", "bench serve", "bench attention", "bench model", "bench profile", "train", "compare", "eval lm", "eval needle", "eval attention", "eval faithfulness", "eval outliers", "eval quant", "eval icl", "study"], CliRun.VerbNames("--threads"));
    }
}
