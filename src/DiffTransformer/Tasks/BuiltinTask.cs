using DiffTransformer.Data;
using DiffTransformer.Tasks.Recall;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Tasks;

/// <summary>
/// The built-in task of <c>difft train</c> without data: key→value recall among near-miss distractors
/// (<see cref="RecallTaskGenerator"/>), generated once into the run's data directory, with recall accuracy on
/// held-out documents reported at every evaluation.
/// </summary>
public static class BuiltinTask
{
    public const long Seed = 20241008;
    public const long TrainDocuments = 60_000;
    public const long ValDocuments = 1_000;
    public const int EvalExamples = 256;

    /// <summary>
    /// Sized so that the default run (tiny, 600 steps of 16 × 128 tokens, a few minutes on 2 cores) gets past the
    /// plateau before retrieval is learnt: 2–6 pairs of one-letter keys (16 letters) and one-digit values, up to 4
    /// queries. Copying a random value of the context scores about 0.3 on average; the answer loss starts at ln 10.
    /// </summary>
    public static RecallTaskOptions TaskOptions { get; } = new()
    {
        Pairs = 6, MinPairs = 2, Queries = 4, KeyLength = 1, KeyAlphabet = "abcdefghijklmnop", ValueLength = 1,
        NearMisses = 0, FillerWords = 0, ContextLength = 128,
    };

    /// <summary>The dataset directory, generating it when <paramref name="dir"/> does not hold it yet.</summary>
    public static string EnsureDataset(string dir, Action<string> log)
    {
        if (File.Exists(Path.Combine(dir, DatasetMeta.FileName)) && RecallDataset.ReadTask(dir) is not null) return dir;
        log($"generating the built-in key→value recall task into {dir}: {TrainDocuments:N0} train and {ValDocuments:N0} held-out documents ({TaskOptions.Describe()})");
        RecallDataset.Write(dir, TaskOptions, TrainDocuments, ValDocuments, Seed, force: true);
        return dir;
    }

    /// <summary>
    /// The task score of a generated dataset: needle accuracy for a needle dataset (<see cref="NeedleTaskEvaluator"/>),
    /// recall accuracy on the held-out documents of a recall dataset; null for any other dataset. Refuses, before
    /// any training, a model whose context cannot hold a whole document.
    /// </summary>
    public static ITaskEvaluator? Evaluator(string dataDir, int maxSeqLen)
    {
        if (NeedleDataset.ReadTask(dataDir) is { } needle) return new NeedleTaskEvaluator(needle, maxSeqLen);
        if (RecallDataset.ReadTask(dataDir) is null) return null;
        var examples = RecallDataset.ReadEvalExamples(dataDir, EvalExamples);
        int longest = examples.Count == 0 ? 0 : examples.Max(e => e.Text.Length) + 1; // + the leading end-of-text
        if (longest > maxSeqLen)
            throw new ConfigException($"the recall task's documents need up to {longest} tokens but the model's max_seq_len is {maxSeqLen}");
        return new RecallTaskEvaluator(examples);
    }

    private sealed class RecallTaskEvaluator(IReadOnlyList<RecallExample> examples) : ITaskEvaluator
    {
        private readonly ITokenizer tokenizer = Tokenizers.Create(RecallDataset.TokenizerName);

        public IReadOnlyDictionary<string, double> Evaluate(LanguageModel model)
        {
            var score = RecallEvaluator.Evaluate(model, tokenizer, examples, batchSize: 32);
            return new Dictionary<string, double> { ["recall_acc"] = score.Accuracy, ["recall_char_acc"] = score.CharacterAccuracy };
        }
    }
}
