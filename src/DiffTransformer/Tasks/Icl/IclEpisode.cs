namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// One evaluation episode: its classes (indices into <see cref="IclExampleSet.Classes"/>; slot s of the episode is
/// class <c>Classes[s]</c>, named with the pool's name <c>Names[s]</c>), the demonstrations in context order (training
/// examples) and the queries (test examples), each scored after the same demonstrations.
/// </summary>
public sealed record IclEpisode(int[] Classes, int[] Names, int[] Demonstrations, int[] Queries)
{
    /// <summary>The slot of class <paramref name="cls"/> in this episode.</summary>
    public int Slot(int cls)
    {
        int s = Array.IndexOf(Classes, cls);
        return s >= 0 ? s : throw new ArgumentException($"class {cls} is not one of the episode's classes [{string.Join(", ", Classes)}]");
    }

    /// <summary>The same episode with the demonstrations <paramref name="demonstrations"/> (another order or number).</summary>
    public IclEpisode With(int[] demonstrations) => this with { Demonstrations = demonstrations };
}
