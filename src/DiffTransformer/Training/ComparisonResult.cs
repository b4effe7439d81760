using DiffTransformer.Model;

namespace DiffTransformer.Training;

/// <summary>Every run of a head-to-head (in the order of the architectures compared) and the table that compares them.</summary>
public sealed record ComparisonResult(IReadOnlyList<TrainResult> Runs, string Table, string Plot)
{
    /// <summary>The run of <paramref name="arch"/>; the message names the architectures compared.</summary>
    public TrainResult Of(Architecture arch) => Runs.FirstOrDefault(r => r.Model.Arch == arch)
        ?? throw new KeyNotFoundException($"the comparison has no {ArchitectureNames.Name(arch)} run (it compared {string.Join(", ", Runs.Select(r => ArchitectureNames.Name(r.Model.Arch)))})");

    public TrainResult Diff => Of(Architecture.Diff);
    public TrainResult Transformer => Of(Architecture.Transformer);
}
