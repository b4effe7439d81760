namespace DiffTransformer.Cli.Tests;

/// <summary><c>difft import</c> on the DiffLlama fixtures (reference/fixtures): a model directory that the other verbs read, or one line of error.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-cli-import-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    private static string Fixture(string name) => Path.Combine(CliRun.RepoRoot(), "reference", "fixtures", name);

    [Fact]
    public void ImportsAShardedCheckpointIntoAModelDirectory()
    {
        string outDir = Path.Combine(tmp, "model");
        var run = CliRun.Of("import", Fixture("diffllama_tiny_mha_sharded"), "--out", outDir);
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith($"imported {Fixture("diffllama_tiny_mha_sharded")} into {outDir}: ", run.Stdout);
        Assert.Contains("H 2, Hkv 2, vocab 61, max_seq_len 64", run.Stdout);
        Assert.StartsWith("note: ", Assert.Single(run.ErrorLines));
        Assert.True(File.Exists(Path.Combine(outDir, "model.safetensors")));
        var info = CliRun.Of("info", "-m", outDir, "--json");
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("\"head_norm_eps\": 1E-06", info.Stdout);
    }

    [Fact]
    public void RefusalsAreOneLine()
    {
        var run = CliRun.Of("import", Path.Combine(tmp, "nosuch"), "--out", Path.Combine(tmp, "model"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nosuch", Assert.Single(run.ErrorLines));
        Directory.CreateDirectory(Path.Combine(tmp, "full"));
        File.WriteAllText(Path.Combine(tmp, "full", "x"), "");
        run = CliRun.Of("import", Fixture("diffllama_tiny_gqa"), "--out", Path.Combine(tmp, "full"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"error: {Path.Combine(tmp, "full")} already exists and is not empty; import into a new directory", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(Path.Combine(tmp, "model")));
    }
}
