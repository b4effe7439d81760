namespace DiffTransformer.Cli.Tests;

/// <summary>Bad command lines are refused before anything runs, naming what was wrong.</summary>
public sealed class ParseErrorTests
{
    private static void AssertRefused(string named, params string[] args)
    {
        var run = CliRun.Of(args);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains(named, run.Stderr);
    }

    [Fact]
    public void UnknownOption() => AssertRefused("--bogus", "info", "--bogus");

    [Fact]
    public void UnknownVerb() => AssertRefused("frobnicate", "frobnicate");

    [Fact]
    public void MissingRequiredOption()
    {
        AssertRefused("--model", "generate", "hello");
        AssertRefused("--model", "serve");
        AssertRefused("--out", "prepare", "corpus.txt");
    }

    [Fact]
    public void MissingRequiredArgument() => AssertRefused("'prepare'", "prepare", "--out", "somewhere");

    [Fact]
    public void UnknownKernel()
    {
        AssertRefused("nonsense", "generate", "-m", "x", "--kernel", "nonsense");
        AssertRefused("nonsense", "train", "--kernel", "nonsense");
    }

    [Fact]
    public void ThreadsMustBePositive()
    {
        foreach (var verb in new[] { "train", "compare", "bench decode", "bench model", "bench profile", "bench attention" })
            AssertRefused("--threads", [.. verb.Split(' '), "--threads", "0"]);
        AssertRefused("--threads", "generate", "-m", "x", "--threads", "0");
        AssertRefused("--threads", "serve", "-m", "x", "--threads", "-2");
    }

    [Fact]
    public void BadValues()
    {
        AssertRefused("--port", "serve", "-m", "x", "--port", "0");
        AssertRefused("abc", "bench", "model", "--batch", "abc");
        AssertRefused("nosuch", "info", "--arch", "nosuch");
    }

    [Fact]
    public void BadServeAndBenchServeValuesAreNamedWithTheValue()
    {
        AssertRefused("--max-batch must be ≥ 1, got 0", "serve", "-m", "x", "--max-batch", "0");
        AssertRefused("--shutdown-timeout must be in 0–3600 seconds, got -1", "serve", "-m", "x", "--shutdown-timeout", "-1");
        foreach (var option in new[] { "--requests", "--prompt-tokens", "--max-tokens", "--repeats" })
            AssertRefused($"{option} must be ≥ 1, got 0", "bench", "serve", option, "0");
        AssertRefused("--clients expects positive integers separated by commas, got '1,0'", "bench", "serve", "--clients", "1,0");
        AssertRefused("--time-limit must be in (0, 86400] seconds, got 0", "bench", "serve", "--time-limit", "0");
    }

    [Fact]
    public void UnknownConfigField()
    {
        var run = CliRun.Of("info", "--set", "unknown_field=1");
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: unknown config field 'unknown_field'", Assert.Single(run.ErrorLines));
    }
}
