using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Cli.Tests;

/// <summary>difft eval: a run on a tiny saved model writes its report; a missing model is one line, exit 1.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("difft-cli-eval-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string SaveTinyModel()
    {
        manual_seed(3);
        using var model = new LanguageModel(new ModelConfig { VocabSize = 257, EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 64 });
        string dir = Path.Combine(root, "model");
        ModelStore.Save(model, dir, "byte");
        return dir;
    }

    [Fact]
    public void EvalLmWritesItsJsonAndMarkdown()
    {
        string model = SaveTinyModel();
        string text = Path.Combine(root, "held-out.txt");
        File.WriteAllText(text, "A short held-out document, scored token by token.");
        string outDir = Path.Combine(root, "out");
        var run = CliRun.Of("eval", "lm", text, "-m", model, "--out", outDir, "--threads", "1");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("bits/byte", run.Stdout);
        Assert.Contains("\"bits_per_byte\"", File.ReadAllText(Path.Combine(outDir, "lm.json")));
        Assert.Contains("# difft eval lm", File.ReadAllText(Path.Combine(outDir, "lm.md")));
    }

    [Fact]
    public void AMissingModelIsOneLine()
    {
        var run = CliRun.Of("eval", "needle", "-m", Path.Combine(root, "nosuch"), "--out", Path.Combine(root, "o"));
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: no model at", Assert.Single(run.ErrorLines));
    }
}
