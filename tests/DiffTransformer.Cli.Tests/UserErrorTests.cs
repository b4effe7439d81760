namespace DiffTransformer.Cli.Tests;

/// <summary>Mistakes the library catches (a missing file, an unknown name) end in one line, exit 1: no stack trace.</summary>
public sealed class UserErrorTests
{
    private static string AssertOneLineError(params string[] args)
    {
        var run = CliRun.Of(args);
        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("error: ", line);
        return line;
    }

    [Fact]
    public void UnknownPreset() => Assert.Contains("'nosuch'", AssertOneLineError("info", "--preset", "nosuch"));

    [Fact]
    public void MissingModel()
    {
        Assert.Contains("/nonexistent", AssertOneLineError("generate", "-m", "/nonexistent", "hello"));
        Assert.Contains("/nonexistent", AssertOneLineError("info", "-m", "/nonexistent"));
    }

    [Fact]
    public void PresetAndConfigTogether() => Assert.Contains("--preset or --config", AssertOneLineError("info", "--preset", "tiny", "--config", "model.json"));

    [Fact]
    public void MissingConfigFile() => Assert.Contains("nosuch.json", AssertOneLineError("info", "--config", Path.Combine(Path.GetTempPath(), "nosuch.json")));

    [Fact]
    public void SeqLenBeyondTheModel() => Assert.Contains("max_seq_len", AssertOneLineError("bench", "model", "--preset", "tiny", "--seq-len", "4096"));

    [Fact]
    public void MissingPrepareInput() => Assert.Contains("/nonexistent.txt", AssertOneLineError("prepare", "-o", Path.Combine(Path.GetTempPath(), "difft-cli-tests-unused"), "/nonexistent.txt"));

    [Fact]
    public void IclOptionsNeedTheIclTaskAndItsExamples()
    {
        string unused = Path.Combine(Path.GetTempPath(), "difft-cli-tests-unused");
        Assert.Contains("--text-field, --ways apply to --task icl", AssertOneLineError("train", "--text-field", "subject", "--ways", "2", "--out", unused));
        Assert.Contains("the icl task needs labelled examples: --examples", AssertOneLineError("compare", "--task", "icl", "--out", unused));
        Assert.Contains("examples /nonexistent.jsonl: no such file", AssertOneLineError("train", "--task", "icl", "--examples", "/nonexistent.jsonl", "--out", unused));
        Assert.False(Directory.Exists(unused));
    }

    [Fact]
    public void SucceedsOnTheDefaultPreset()
    {
        var run = CliRun.Of("info");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("preset tiny:", run.Stdout);
        Assert.Equal("", run.Stderr);
    }
}
