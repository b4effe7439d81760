namespace DiffTransformer.Evaluation;

/// <summary>
/// One model's in-context classification: accuracy at every number of shots, and over the fixed sets the spread of
/// accuracy across random and across class-grouped orders (each figure the mean of the sets'; null without order sets).
/// </summary>
public sealed record IclModelScore(EvalModelInfo Model, int MaxShots, IReadOnlyList<IclShotPoint> Shots, IReadOnlyList<IclOrderSet> OrderSets, double Seconds)
{
    public OrderSpread? Random => OrderSets.Count == 0 ? null : OrderSpread.MeanOf(OrderSets.Select(s => s.RandomSpread).ToList());
    public OrderSpread? Grouped => OrderSets.Count == 0 ? null : OrderSpread.MeanOf(OrderSets.Select(s => s.GroupedSpread).ToList());
}
