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
    public void EvalOutliersWritesItsReportAndAHistogramPerModel()
    {
        string model = SaveTinyModel();
        string text = Path.Combine(root, "held-out.jsonl");
        File.WriteAllText(text, "{\"body\": \"A held-out document, long enough for two windows of sixty-four tokens: it goes on and on and on, and then some more.\"}\n");
        string outDir = Path.Combine(root, "out");
        var run = CliRun.Of("eval", "outliers", text, "--field", "body", "-m", model, "--out", outDir, "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("## Attention logits |q·kᵀ/√d|", run.Stdout);
        string json = File.ReadAllText(Path.Combine(outDir, "outliers.json"));
        Assert.Contains("\"top100\"", json);
        Assert.Contains("\"median_relative_error\"", json);
        Assert.Contains("\"windows\": 2", json);
        Assert.True(File.Exists(Path.Combine(outDir, "outliers-1-diff.png")));
        var bad = CliRun.Of("eval", "outliers", text, "-m", model, "--out", outDir);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("held-out.jsonl:1: no field 'text'", Assert.Single(bad.ErrorLines));
    }

    [Fact]
    public void EvalQuantWritesItsReportAndPlots()
    {
        string model = SaveTinyModel();
        string text = Path.Combine(root, "held-out.txt");
        File.WriteAllText(text, "A short held-out document, scored token by token.");
        string outDir = Path.Combine(root, "out");
        var run = CliRun.Of("eval", "quant", text, "-m", model, "--bits", "8", "4", "--granularity", "head", "--lengths", "64", "--settings", "1/1",
                            "--depths", "0", "--samples", "1", "--needle", "{key}={value}.", "--question", "{key}?", "--out", outDir, "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("| full | 8 bits | 4 bits |", run.Stdout);
        string json = File.ReadAllText(Path.Combine(outDir, "quant.json"));
        Assert.Contains("\"granularity\": \"head\"", json);
        Assert.True(File.Exists(Path.Combine(outDir, "quant-loss.png")) && File.Exists(Path.Combine(outDir, "quant-needle.png")));
        var bad = CliRun.Of("eval", "quant", text, "-m", model, "--bits", "1", "--out", outDir);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("error: --bits 1 is outside [2, 24]", Assert.Single(bad.ErrorLines));
    }

    [Fact]
    public void EvalIclWritesItsReportAndBothPlotsAndNamesABadField()
    {
        string model = SaveTinyModel();
        string examples = Path.Combine(root, "labelled.jsonl");
        File.WriteAllLines(examples, Enumerable.Range(0, 30).Select(i => $"{{\"subject\": \"{(i % 2 == 0 ? "win" : "meet")} {i}\", \"label\": \"{(i % 2 == 0 ? "spam" : "ham")}\"}}"));
        string outDir = Path.Combine(root, "out");
        var run = CliRun.Of("eval", "icl", examples, "--text-field", "subject", "-m", model, "--shots", "1", "2", "--sets", "1", "--queries", "2",
                            "--order-sets", "1", "--orders", "2", "--out", outDir, "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("## Accuracy against the number of demonstrations", run.Stdout);
        Assert.Contains("| 2 | ", run.Stdout);
        string json = File.ReadAllText(Path.Combine(outDir, "icl.json"));
        Assert.Contains("\"best_minus_worst\"", json);
        Assert.Contains("\"chance\": 0.5", json);
        Assert.True(File.Exists(Path.Combine(outDir, "icl-shots.png")) && File.Exists(Path.Combine(outDir, "icl-orders.png")));
        var bad = CliRun.Of("eval", "icl", examples, "-m", model, "--out", outDir);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("labelled.jsonl:1: no field 'text' (choose the text field with --text-field)", Assert.Single(bad.ErrorLines));
    }

    [Fact]
    public void AMissingModelIsOneLine()
    {
        var run = CliRun.Of("eval", "needle", "-m", Path.Combine(root, "nosuch"), "--out", Path.Combine(root, "o"));
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: no model at", Assert.Single(run.ErrorLines));
    }
}
