namespace DiffTransformer.Cli.Tests;

/// <summary><c>difft quantize</c>: an int8 model directory that generate and eval read like any other; or one line of error.</summary>
public sealed class QuantizeCommandTests : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-cli-quantize-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    [Fact]
    public void QuantizesATrainedModelThatGenerateReads()
    {
        string run = Path.Combine(tmp, "run"), int8 = Path.Combine(tmp, "int8");
        Assert.Equal(0, CliRun.Of("train", "--steps", "2", "--eval-interval", "2", "--seq-len", "32", "--batch-size", "2", "--out", run).ExitCode);
        var q = CliRun.Of("quantize", run, "--out", int8);
        Assert.Equal(0, q.ExitCode);
        Assert.StartsWith($"quantized {run} into {int8}: 36 linear layers, ", q.Stdout);
        var g = CliRun.Of("generate", "abc", "-m", int8, "-n", "5", "--greedy");
        Assert.True(g.ExitCode == 0, g.Stderr);
        var again = CliRun.Of("quantize", int8, "--out", Path.Combine(tmp, "again"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already int8", Assert.Single(again.ErrorLines));
    }
}
