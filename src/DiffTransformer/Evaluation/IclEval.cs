using System.Diagnostics;
using DiffTransformer.Tasks;
using DiffTransformer.Tasks.Icl;

namespace DiffTransformer.Evaluation;

/// <summary>
/// Many-shot in-context classification (docs/EVALUATION.md, "eval icl"), the paper's Figures 6 and 7 at our scale: held-out
/// examples classified after k demonstrations of training examples under label names drawn per episode, so the mapping
/// can only be read from the context; each query's class is the episode's name of highest log-probability
/// (<see cref="IclScorer"/>). Accuracy against k, from 1 to the most every model's context holds, over
/// <see cref="IclEvalOptions.Sets"/> demonstration sets of <see cref="IclEvalOptions.Queries"/> queries (demonstrations
/// nested in k, the same queries at every k); then, for <see cref="IclEvalOptions.OrderSets"/> fixed sets, the accuracy
/// under <see cref="IclEvalOptions.Orders"/> random orders and as many class-grouped ones, and their spread. The episodes
/// depend only on the examples and the seed, so every model sees the same ones.
/// </summary>
public static class IclEval
{
    private const ulong ShotsSalt = 0x69636C2D73686F74UL, OrderSalt = 0x69636C2D6F726472UL, RandomSalt = 0x72616E646F6DUL, GroupedSalt = 0x67726F75706564UL;

    public static IclEvalResult Run(IReadOnlyList<EvalModel> models, IclEvalOptions options, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        var (set, task, source, trainedContext) = ResolveTask(models, options);
        var encodings = models.Select(m => IclFormat.Encode(m.Tokenizer, set, task)).ToList();
        var (shots, orderShots, maxShots) = Check(models, options with { Context = options.Context ?? trainedContext }, set, task, encodings);
        int ways = task.Ways ?? set.Classes.Count;

        // the episodes, shared by every model: per set, demonstrations drawn once for the largest k and nested below it
        var shotEpisodes = Enumerable.Range(0, options.Sets).Select(s =>
        {
            var drawn = IclEpisodes.Draw(set, task, shots[^1], options.Queries, GeneratedSplit.DocumentRandom((ulong)options.Seed ^ ShotsSalt, s));
            return shots.Select(k => IclEpisodes.FirstShots(drawn, k, GeneratedSplit.DocumentRandom((ulong)options.Seed ^ ShotsSalt ^ ((ulong)k << 32), s))).ToList();
        }).ToList();
        var orderEpisodes = Enumerable.Range(0, options.OrderSets).Select(s =>
        {
            var drawn = IclEpisodes.Draw(set, task, orderShots, options.Queries, GeneratedSplit.DocumentRandom((ulong)options.Seed ^ OrderSalt, s));
            ulong setSeed = CounterHashOf(options.Seed, s);
            var random = Enumerable.Range(0, options.Orders).Select(p => drawn.With(IclEpisodes.RandomOrder(drawn.Demonstrations, GeneratedSplit.DocumentRandom(setSeed ^ RandomSalt, p)))).ToList();
            var grouped = Enumerable.Range(0, options.Orders).Select(p => drawn.With(IclEpisodes.GroupedOrder(set, drawn.Demonstrations, GeneratedSplit.DocumentRandom(setSeed ^ GroupedSalt, p)))).ToList();
            return (Random: random, Grouped: grouped);
        }).ToList();

        var scores = new List<IclModelScore>();
        for (int mi = 0; mi < models.Count; mi++)
        {
            var m = models[mi];
            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            int total = options.Sets * shots.Count + 2 * options.OrderSets * options.Orders, done = 0;
            int Correct(IclEpisode episode)
            {
                cancel.ThrowIfCancellationRequested();
                int c = IclScorer.Correct(m.Model, encodings[mi], set, episode, options.BatchSize);
                done++;
                if (progress is not null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
                {
                    lastReport = clock.Elapsed;
                    progress.Report($"model {mi + 1}/{models.Count} {m.Label}: episode {done}/{total}, {clock.Elapsed.TotalSeconds:F0} s");
                }
                return c;
            }
            var perSet = shotEpisodes.Select(episodes => episodes.Select(Correct).ToList()).ToList();   // [set][k]
            var points = shots.Select((k, i) => new IclShotPoint(k, options.Sets * options.Queries, perSet.Sum(p => p[i]), perSet.Select(p => p[i]).ToList())).ToList();
            double Accuracy(IclEpisode e) => (double)Correct(e) / e.Queries.Length;
            var orderSets = orderEpisodes.Select((o, s) => new IclOrderSet(s, o.Random.Select(Accuracy).ToList(), o.Grouped.Select(Accuracy).ToList())).ToList();
            scores.Add(new IclModelScore(m.Info, encodings[mi].MaxShots(Context(m, options with { Context = options.Context ?? trainedContext })), points, orderSets, clock.Elapsed.TotalSeconds));
            progress?.Report($"model {mi + 1}/{models.Count} {m.Label}: accuracy {string.Join(", ", points.Select(p => $"{p.Shots} shots {p.Accuracy:F3}"))}");
        }
        return new IclEvalResult(source, set.Classes, ways, 1.0 / ways, set.Train.Sum(c => c.Length), set.Test.Sum(c => c.Length), maxShots,
                                 options.Sets, options.Queries, orderShots, options.OrderSets, options.Orders, scores);
    }

    private static ulong CounterHashOf(long seed, int set) => Data.CounterHash.Hash((ulong)seed, 0x6F72646572UL, (ulong)set);

    /// <summary>
    /// The examples and episode shape: <see cref="IclEvalOptions.Inputs"/> read with <see cref="IclEvalOptions.Task"/> (or
    /// the defaults), or without inputs the icl task every model was trained on (run.json beside its final/; all the same),
    /// its stored examples, or with other <see cref="IclEvalOptions.Task"/> options its inputs read again with them; and
    /// then that task's training context (null with inputs).
    /// </summary>
    public static (IclExampleSet Set, IclTaskOptions Task, string Source, int? TrainedContext) ResolveTask(IReadOnlyList<EvalModel> models, IclEvalOptions options)
    {
        if (models.Count == 0) throw new ArgumentException("no models to evaluate");
        if (options.Inputs.Count > 0)
        {
            var task = (options.Task ?? new IclTaskOptions()).Validate();
            var set = IclExamples.Read(options.Inputs, task);
            return (set, task, set.Source, null);
        }
        (IclTaskFile Task, string Dir)? first = null;
        foreach (var m in models)
        {
            string dir = FaithfulnessEval.TrainingData(m.Path)
                ?? throw new ArgumentException($"the model at {m.Path} is not inside a run directory whose run.json names its data; give the labelled examples (JSONL files)");
            var found = IclDataset.ReadTask(dir)
                ?? throw new ArgumentException($"{dir} (the training data of {m.Path}) holds no {IclTaskFile.FileName}: give the labelled examples (JSONL files), or evaluate models trained with --task icl");
            if (first is null) first = (found, dir);
            else if (IO.Json.Serialize(found.Options) != IO.Json.Serialize(first.Value.Task.Options) || !found.Examples.SequenceEqual(first.Value.Task.Examples))
                throw new ArgumentException($"the models were trained on different icl tasks ({first.Value.Dir} and {dir}); give the labelled examples (JSONL files)");
        }
        var (trained, data) = first!.Value;
        if (options.Task is { } asked && IO.Json.Serialize(asked.Validate()) != IO.Json.Serialize(trained.Options))
        {
            var set = IclExamples.Read(trained.Examples, asked);
            return (set, asked, set.Source, trained.ContextLength);
        }
        return (IclDataset.ReadExamples(data), trained.Options, $"{string.Join(", ", trained.Examples)} (the icl task of {data})", trained.ContextLength);
    }

    /// <summary>
    /// Checks the options against the examples and every model's context before anything runs (messages name the value
    /// and, where it applies, the model's path and limit); returns the shots, the order sets' shots and the most every
    /// context holds.
    /// </summary>
    public static (IReadOnlyList<int> Shots, int OrderShots, int MaxShots) Check(IReadOnlyList<EvalModel> models, IclEvalOptions options, IclExampleSet set,
        IclTaskOptions task, IReadOnlyList<IclEncoding> encodings)
    {
        if (options.Sets < 1) throw new ArgumentException($"--sets must be at least 1, got {options.Sets}");
        if (options.Queries < 1) throw new ArgumentException($"--queries must be at least 1, got {options.Queries}");
        if (options.OrderSets < 0) throw new ArgumentException($"--order-sets must be at least 0, got {options.OrderSets}");
        if (options.OrderSets > 0 && options.Orders < 2) throw new ArgumentException($"--orders must be at least 2 to spread, got {options.Orders}");
        if (options.BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {options.BatchSize}");
        var fits = models.Select((m, i) => (Model: m, Shots: IclDataset.CheckFits(encodings[i], task, Context(m, options),
            options.Context is null ? $"the context of the model at {m.Path} (max_seq_len)" : $"the context (--context) for the model at {m.Path}"))).ToList();
        var (shortest, max) = fits.MinBy(f => f.Shots);
        var shots = options.Shots ?? DefaultShots(max);
        if (shots.Count == 0) throw new ArgumentException("--shots lists no number of demonstrations");
        for (int i = 0; i < shots.Count; i++)
        {
            if (shots[i] < 1) throw new ArgumentException($"--shots {shots[i]}: at least 1 demonstration");
            if (shots[i] > max)
                throw new ArgumentException($"--shots {shots[i]}: the context of the model at {shortest.Path} ({Context(shortest, options)} tokens) holds at most {max} " +
                                            $"demonstrations and a query (each up to {encodings[models.ToList().IndexOf(shortest)].DemonstrationBound} tokens)");
            if (i > 0 && shots[i] <= shots[i - 1]) throw new ArgumentException($"--shots must ascend without repeats, got {string.Join(" ", shots)}");
        }
        int orderShots = options.OrderShots ?? max;
        if (options.OrderSets > 0 && (orderShots < 1 || orderShots > max))
            throw new ArgumentException($"--order-shots {orderShots} is outside [1, {max}] (the most demonstrations the context of the model at {shortest.Path} holds)");
        int ways = task.Ways ?? set.Classes.Count;
        int most = Math.Max(shots[^1], options.OrderSets > 0 ? orderShots : 0), rounds = (most + ways - 1) / ways;
        for (int c = 0; c < set.Classes.Count; c++)
            if (set.Train[c].Length < rounds)
                throw new ArgumentException($"class \"{set.Classes[c]}\" has {set.Train[c].Length} training examples, but {most} demonstrations of {ways} classes need {rounds} of each; ask fewer shots");
        return (shots, orderShots, max);
    }

    /// <summary>The tokens an episode may take for <paramref name="m"/>: --context, refused beyond its max_seq_len, or that.</summary>
    private static int Context(EvalModel m, IclEvalOptions options)
    {
        if (options.Context is not int c) return m.Config.MaxSeqLen;
        if (c > m.Config.MaxSeqLen) throw new ArgumentException($"--context {c} is longer than the context of the model at {m.Path} (max_seq_len {m.Config.MaxSeqLen})");
        return c;
    }

    /// <summary>1, 2, 4, … below <paramref name="max"/>, then <paramref name="max"/>.</summary>
    public static IReadOnlyList<int> DefaultShots(int max)
    {
        var shots = new List<int>();
        for (int k = 1; k < max; k *= 2) shots.Add(k);
        shots.Add(max);
        return shots;
    }
}
