namespace DiffTransformer.Cli.Tests;

/// <summary><c>difft export</c>: a model directory → a DiffLlama checkpoint that <c>difft import</c> reads back; or one line of error.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-cli-export-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    private static string Fixture(string name) => Path.Combine(CliRun.RepoRoot(), "reference", "fixtures", name);

    [Fact]
    public void ExportsShardsThatImportBack()
    {
        string ours = Path.Combine(tmp, "ours"), hf = Path.Combine(tmp, "hf"), back = Path.Combine(tmp, "back");
        Assert.Equal(0, CliRun.Of("import", Fixture("diffllama_tiny_gqa"), "--out", ours).ExitCode);
        var run = CliRun.Of("export", ours, "--out", hf, "--max-shard-size", "10KB");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith($"exported {ours} to {hf}: ", run.Stdout);
        Assert.Contains("config.json, model-00001-of-", run.Stdout);
        Assert.Contains("model.safetensors.index.json", run.Stdout);
        Assert.Contains("names no tokenizer", Assert.Single(run.ErrorLines));
        Assert.True(File.Exists(Path.Combine(hf, "model.safetensors.index.json")));
        Assert.Equal(0, CliRun.Of("import", hf, "--out", back).ExitCode);
        var info = CliRun.Of("info", "-m", back);
        Assert.Equal(0, info.ExitCode);
    }

    [Fact]
    public void RefusalsAreOneLine()
    {
        string ours = Path.Combine(tmp, "ours");
        Assert.Equal(0, CliRun.Of("import", Fixture("diffllama_tiny_gqa"), "--out", ours).ExitCode);
        var run = CliRun.Of("export", ours, "--out", Path.Combine(tmp, "x"), "--max-shard-size", "lots");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error: --max-shard-size \"lots\" is not a positive size (e.g. 5GB, 200MB, 1000000)", Assert.Single(run.ErrorLines));
        run = CliRun.Of("export", Path.Combine(tmp, "nosuch"), "--out", Path.Combine(tmp, "x"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nosuch", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(Path.Combine(tmp, "x")));
    }
}
