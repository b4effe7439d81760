namespace DiffTransformer.Evaluation;

/// <summary>One fixed demonstration set: the accuracy of each random order and of each class-grouped order, and their spreads.</summary>
public sealed record IclOrderSet(int Set, IReadOnlyList<double> Random, IReadOnlyList<double> Grouped)
{
    public OrderSpread RandomSpread => OrderSpread.Of(Random);
    public OrderSpread GroupedSpread => OrderSpread.Of(Grouped);
}
