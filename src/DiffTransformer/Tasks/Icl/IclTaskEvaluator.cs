using DiffTransformer.Data;
using DiffTransformer.Model;

namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// The in-context classification task's score during training: <see cref="Episodes"/> held-out episodes of
/// <see cref="QueriesPerEpisode"/> queries each (test examples) after as many demonstrations of training examples as
/// the task's context always holds (<see cref="IclEncoding.MaxShots"/>), balanced over the classes, drawn once from a
/// seed apart from the training documents'; classified by the label names' log-probabilities (<see cref="IclScorer"/>).
/// Reports icl_acc and, on the same queries after the first of those demonstrations only, icl_acc_1shot (chance is
/// 1 / classes an episode).
/// </summary>
public sealed class IclTaskEvaluator : ITaskEvaluator
{
    public const int Episodes = 16;
    public const int QueriesPerEpisode = 4;
    private const ulong EvalSalt = 0x69636C2D6576616CUL;

    private readonly IclExampleSet set;
    private readonly IclEncoding encoding;
    private readonly List<IclEpisode> full = [], oneShot = [];

    public IclTaskEvaluator(IclTaskFile task, IclExampleSet examples, int maxSeqLen)
    {
        set = examples;
        if (task.ContextLength > maxSeqLen)
            throw new ConfigException($"the icl task's documents are {task.ContextLength} tokens but the model's max_seq_len is {maxSeqLen}");
        encoding = IclFormat.Encode(Tokenizers.Create(IclDataset.TokenizerName), set, task.Options);
        Shots = IclDataset.CheckFits(encoding, task.Options, task.ContextLength, "the icl task's context");
        for (int e = 0; e < Episodes; e++)
        {
            var rng = GeneratedSplit.DocumentRandom((ulong)task.Seed ^ EvalSalt, e);
            var drawn = IclEpisodes.Draw(set, task.Options, Shots, QueriesPerEpisode, rng);
            full.Add(IclEpisodes.FirstShots(drawn, Shots, rng));
            oneShot.Add(IclEpisodes.FirstShots(drawn, 1, rng));
        }
    }

    /// <summary>The demonstrations before each query of icl_acc.</summary>
    public int Shots { get; }

    public IReadOnlyDictionary<string, double> Evaluate(LanguageModel model)
    {
        double Accuracy(List<IclEpisode> episodes) =>
            (double)episodes.Sum(e => IclScorer.Correct(model, encoding, set, e)) / episodes.Sum(e => e.Queries.Length);
        return new Dictionary<string, double> { ["icl_acc"] = Accuracy(full), ["icl_acc_1shot"] = Accuracy(oneShot) };
    }
}
