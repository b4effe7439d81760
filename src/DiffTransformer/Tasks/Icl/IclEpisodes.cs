namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// Drawing episodes: training documents (<see cref="TrainingDocument"/>), evaluation episodes whose demonstrations are
/// balanced over the classes (<see cref="Draw"/>, <see cref="FirstShots"/>) and their orders (<see cref="RandomOrder"/>,
/// <see cref="GroupedOrder"/>). Every draw is a function of the random source given.
/// </summary>
public static class IclEpisodes
{
    /// <summary><paramref name="count"/> distinct integers of [0, <paramref name="n"/>) in random order.</summary>
    public static int[] Distinct(Random rng, int n, int count)
    {
        if (count > n) throw new ArgumentException($"{count} distinct values of [0, {n}) do not exist");
        var pool = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = rng.Next(i, n);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool[..count];
    }

    /// <summary>
    /// A training document (tokens after the end-of-text the dataset writer puts before it): W classes drawn at random
    /// (<see cref="IclTaskOptions.Ways"/>, all by default) named with W distinct names of the pool, then
    /// demonstrations of the <paramref name="test"/> split — each of a class drawn uniformly among the W, an example
    /// drawn uniformly in that class — while they fit <paramref name="context"/> tokens with the end-of-text. Every
    /// label after the first is a query the demonstrations before it answer; at least two fit when
    /// <see cref="IclEncoding.MaxShots"/> of the context is at least 1.
    /// </summary>
    public static int[] TrainingDocument(IclExampleSet set, IclEncoding encoding, IclTaskOptions options, int context, bool test, Random rng)
    {
        int ways = options.Ways ?? set.Classes.Count;
        var classes = Distinct(rng, set.Classes.Count, ways);
        var names = Distinct(rng, options.LabelPool.Count, ways);
        var split = set.Split(test);
        var tokens = new List<int>(context);
        while (true)
        {
            int slot = rng.Next(ways);
            var examples = split[classes[slot]];
            var demonstration = encoding.Demonstration(examples[rng.Next(examples.Length)], names[slot]);
            if (tokens.Count + demonstration.Length > context - 1) return [.. tokens];
            tokens.AddRange(demonstration);
        }
    }

    /// <summary>
    /// An evaluation episode of up to <paramref name="shots"/> demonstrations and <paramref name="queries"/> queries:
    /// W classes in random order (its slots), W distinct names of the pool; the demonstrations in selection order — in
    /// round r, the r-th of a random permutation of each class's training examples, class by class in slot order — so
    /// that the first k of them (<see cref="FirstShots"/>) hold ⌊k/W⌋ or ⌊k/W⌋ + 1 of every class, nested in k; the
    /// queries cycle through the classes in a random order, each taking the next of a random permutation of its test
    /// examples (again from the start when they run out). Refuses a class with fewer training examples than
    /// ⌈shots/W⌉, naming it.
    /// </summary>
    public static IclEpisode Draw(IclExampleSet set, IclTaskOptions options, int shots, int queries, Random rng)
    {
        int ways = options.Ways ?? set.Classes.Count;
        var classes = Distinct(rng, set.Classes.Count, ways);
        var names = Distinct(rng, options.LabelPool.Count, ways);
        int rounds = (shots + ways - 1) / ways;
        var permuted = classes.Select(c => Shuffled(set.Train[c], rng)).ToArray();
        for (int s = 0; s < ways; s++)
            if (permuted[s].Length < rounds)
                throw new ArgumentException($"{shots} demonstrations of {ways} classes need {rounds} training examples of each, but class \"{set.Classes[classes[s]]}\" has {permuted[s].Length}");
        var demonstrations = new List<int>(shots);
        for (int r = 0; demonstrations.Count < shots; r++)
            for (int s = 0; s < ways && demonstrations.Count < shots; s++) demonstrations.Add(permuted[s][r]);
        var order = Distinct(rng, ways, ways);
        var tests = classes.Select(c => Shuffled(set.Test[c], rng)).ToArray();
        var taken = new int[ways];
        var asked = new int[queries];
        for (int q = 0; q < queries; q++)
        {
            int s = order[q % ways];
            asked[q] = tests[s][taken[s]++ % tests[s].Length];
        }
        return new IclEpisode(classes, names, [.. demonstrations], asked);
    }

    /// <summary>The first <paramref name="k"/> demonstrations of a drawn episode's selection order, in a random order.</summary>
    public static IclEpisode FirstShots(IclEpisode drawn, int k, Random rng)
    {
        if (k > drawn.Demonstrations.Length) throw new ArgumentException($"{k} shots asked of an episode drawn with {drawn.Demonstrations.Length}");
        return drawn.With(Shuffled(drawn.Demonstrations[..k], rng));
    }

    /// <summary>The demonstrations in a uniformly random order.</summary>
    public static int[] RandomOrder(IReadOnlyList<int> demonstrations, Random rng) => Shuffled([.. demonstrations], rng);

    /// <summary>
    /// The demonstrations grouped by class: the classes in a random order, each class's demonstrations together in a
    /// random order (the paper's "arranged by class").
    /// </summary>
    public static int[] GroupedOrder(IclExampleSet set, IReadOnlyList<int> demonstrations, Random rng)
    {
        var groups = demonstrations.GroupBy(d => set.Examples[d].Class).OrderBy(g => g.Key).Select(g => g.ToArray()).ToArray();
        var order = Distinct(rng, groups.Length, groups.Length);
        return order.SelectMany(g => Shuffled(groups[g], rng)).ToArray();
    }

    private static int[] Shuffled(int[] items, Random rng)
    {
        var a = (int[])items.Clone();
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a;
    }
}
