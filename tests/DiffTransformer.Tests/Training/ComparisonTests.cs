using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tasks;
using DiffTransformer.Tests.Data;
using DiffTransformer.Training;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Training;

public sealed class ComparisonTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    [Fact]
    public void TrainsBothArchitecturesOnTheSameDataAndReusesFinishedRuns()
    {
        var options = OnPreparedData() with { Steps = 3, EvalInterval = 3, EvalBatches = 1 };
        var r = Comparison.Run(options, force: false, log.WriteLine);
        log.WriteLine(r.Table);
        Assert.Equal(Architecture.Diff, r.Diff.Model.Arch);
        Assert.Equal(Architecture.Transformer, r.Transformer.Model.Arch);
        long d8 = 6 * r.Diff.Model.HeadDim;                          // λ vectors and subln: the only difference
        Assert.Equal(r.Transformer.Parameters + d8, r.Diff.Parameters);
        Assert.True(File.Exists(r.Plot));
        Assert.Contains("| final validation loss |", r.Table);
        Assert.Contains("| training tokens/s |", r.Table);
        Assert.True(File.Exists(tmp["cmp/comparison.md"]));
        var m1 = File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]);
        var again = Comparison.Run(options, force: false, log.WriteLine);    // completed runs are reused, not retrained
        Assert.Equal(m1, File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]));
        Assert.Equal(r.Diff.FinalValLoss, again.Diff.FinalValLoss);
        Comparison.Run(options with { Kernel = AttentionKernel.Explicit }, force: false, log.WriteLine);   // another kernel computes the same runs
        Assert.Equal(m1, File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]));
    }

    [Fact]
    public void ComparesDiffV2BesideTheOtherTwoOnTheSameData()
    {
        var options = OnPreparedData() with { Steps = 3, EvalInterval = 3, EvalBatches = 1 };
        var r = Comparison.Run(options, force: false, log.WriteLine, architectures: [Architecture.Diff, Architecture.Transformer, Architecture.Diff2]);
        log.WriteLine(r.Table);
        Assert.Equal([Architecture.Diff, Architecture.Transformer, Architecture.Diff2], r.Runs.Select(x => x.Model.Arch));
        Assert.Contains("| | DIFF Transformer | Transformer | DIFF V2 Transformer |", r.Table);
        Assert.True(File.Exists(tmp["cmp/diff2/final/model.safetensors"]));
        var v2 = r.Of(Architecture.Diff2);
        Assert.InRange(Math.Abs(v2.Parameters - r.Transformer.Parameters), 0, (long)v2.Model.NumLayers * v2.Model.EmbedDim);   // matched
        Assert.True(v2.FinalValLoss is double loss && double.IsFinite(loss));
        Assert.Throws<ArgumentException>(() => Comparison.Run(options, force: false, log.WriteLine, architectures: [Architecture.Diff]));
    }

    private TrainOptions OnPreparedData()
    {
        for (int d = 0; d < 20; d++) tmp.WriteText($"src/{d}.txt", string.Concat(Enumerable.Repeat($"document {d} says hello to the model. ", 12)));
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [tmp["src"]], OutputDirectory = tmp["data"], ValFraction = 0.2 });
        return new TrainOptions
        {
            Data = tmp["data"], Out = tmp["cmp"], Model = new ModelConfig { EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 64 },
            BatchSize = 2, SeqLen = 32, Steps = 2, WarmupSteps = 1, EvalInterval = 0, CheckpointInterval = 0,
        };
    }

    /// <summary>Every file of <paramref name="dir"/> with its bytes, by relative path.</summary>
    private static Dictionary<string, string> Contents(string dir) => Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
        .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void AComparisonRerunWithOtherTaskOptionsIsRefusedBeforeItsDataIsRegenerated()
    {
        var options = new TrainOptions
        {
            Out = tmp["facts"], Task = BuiltinTaskKind.Facts, Model = new ModelConfig { EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 128 },
            BatchSize = 2, SeqLen = 128, Steps = 1, WarmupSteps = 1, EvalInterval = 0, CheckpointInterval = 0,
        };
        Comparison.Run(options, force: false, log.WriteLine);
        var data = Contents(tmp["facts/data"]);
        // without --task (the recall task) or with another --seq-len, the sub-runs could not continue: refused, data untouched
        var e = Assert.Throws<ArgumentException>(() => Comparison.Run(options with { Task = BuiltinTaskKind.Recall }, force: false, log.WriteLine));
        log.WriteLine(e.Message);
        Assert.Contains(Path.Combine(tmp["facts"], "diff", "run.json"), e.Message);
        Assert.Contains("task \"recall\" (saved: \"facts\")", e.Message);
        Assert.Equal(data, Contents(tmp["facts/data"]));
        e = Assert.Throws<ArgumentException>(() => Comparison.Run(options with { SeqLen = 64 }, force: false, log.WriteLine));
        Assert.Contains("seq_len 64 (saved: 128)", e.Message);
        Assert.Equal(data, Contents(tmp["facts/data"]));
        using (RunLock.Acquire(tmp["facts"]))                                       // another comparison into the same directory
            Assert.StartsWith($"{tmp["facts"]} is in use by another trainer",
                Assert.Throws<IOException>(() => Comparison.Run(options, force: false, log.WriteLine)).Message);
        Assert.Equal(1, Comparison.Run(options, force: false, log.WriteLine).Diff.Step);   // as started: reused
    }

    [Fact]
    public void ForceDoesNotDeleteASubRunAnotherTrainerHolds()
    {
        var options = OnPreparedData();
        Comparison.Run(options, force: false, log.WriteLine);
        var before = Contents(tmp["cmp"]);
        using (RunLock.Acquire(tmp["cmp/transformer"]))                             // a trainer still at work in it
        {
            var e = Assert.Throws<IOException>(() => Comparison.Run(options, force: true, log.WriteLine));
            Assert.StartsWith($"{tmp["cmp/transformer"]} is in use by another trainer", e.Message);
        }
        Assert.Equal(before, Contents(tmp["cmp"]));                                  // neither sub-run was deleted
        var again = Comparison.Run(options, force: true, log.WriteLine);             // free: both start over
        Assert.Equal(2, again.Transformer.Step);
    }
}
