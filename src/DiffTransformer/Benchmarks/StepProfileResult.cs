using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Benchmarks;

public sealed record StepProfileResult(StepProfileOptions Options, IReadOnlyList<ProfileItem> Items, int Threads, string Machine, string LoadBefore, string LoadAfter)
{
    public ProfileItem Item(ProfilePiece piece) => Items.First(i => i.Piece == piece);

    /// <summary>Milliseconds a training step spends in <paramref name="piece"/>: its median time times how often a step runs it.</summary>
    public double MsPerStep(ProfilePiece piece) => 1000 * Item(piece).Median * Item(piece).PerStep;

    /// <summary>
    /// The report <c>difft bench profile</c> prints, headed by <paramref name="command"/> (the command line that reruns it);
    /// <paramref name="name"/> names the configuration.
    /// </summary>
    public string ToMarkdown(string name, string command)
    {
        var w = new StringWriter();
        var c = Options.Config;
        BenchMarkdown.Header(w, command, Machine, LoadBefore, LoadAfter);
        w.WriteLine($"{name}: E {c.EmbedDim}, L {c.NumLayers}, H {c.NumHeads} (d {c.HeadDim}), FFN {c.FfnHidden}, vocab {c.VocabSize}; batch {Options.Batch} × T {Options.SeqLen}; " +
                    $"{Threads} threads; median of {Options.Repeats} rounds; every piece forward+backward unless named otherwise");
        w.WriteLine();
        w.WriteLine("| group | piece | ms per call | calls per step | ms per step |");
        w.WriteLine("|---|---|---:|---:|---:|");
        foreach (var i in Items)
            w.WriteLine($"| {i.Group} | {i.Name} | {Fmt.F1(1000 * i.Median)} | {i.PerStep} | {Fmt.N0(1000 * i.Median * i.PerStep)} |");
        w.WriteLine();
        double rest = ProfilePieces.RestOfStep.Sum(MsPerStep);
        w.WriteLine("A step assembled from the pieces (attention layers + everything else):");
        w.WriteLine();
        w.WriteLine("| attention | attention ms per step | everything else ms | step ms (sum) | attention share |");
        w.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var piece in ProfilePieces.AttentionLayers)
        {
            double a = MsPerStep(piece);
            w.WriteLine($"| {ProfilePieces.Name(piece)} | {Fmt.N0(a)} | {Fmt.N0(rest)} | {Fmt.N0(a + rest)} | {Fmt.F1(100 * a / (a + rest))}% |");
        }
        return w.ToString();
    }
}
