namespace DiffTransformer.Evaluation;

/// <summary>One cell of the needle grid and the key its documents are drawn from (so every suite on the grid sees the same documents).</summary>
public sealed record NeedleGridCell(int Length, NeedleSetting Setting, double Depth, ulong Key)
{
    /// <summary>The grid in its order: lengths, then N/R settings, then depths.</summary>
    public static IEnumerable<NeedleGridCell> All(IReadOnlyList<int> lengths, NeedleEvalOptions options)
    {
        for (int li = 0; li < lengths.Count; li++)
            for (int si = 0; si < options.Settings.Count; si++)
                for (int di = 0; di < options.Depths.Count; di++)
                    yield return new NeedleGridCell(lengths[li], options.Settings[si], options.Depths[di], (ulong)(li * 1_000_000 + si * 1_000 + di));
    }

    public override string ToString() => $"length {Length}, {Setting}, depth {Depth:P0}";
}
