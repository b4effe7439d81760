using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Tasks.Recall;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Needle;
using DiffTransformer.Tasks.Icl;

namespace DiffTransformer.Tasks;

/// <summary>
/// The built-in tasks of <c>difft train</c> without data (<see cref="BuiltinTaskKind"/>), generated once into the run's
/// data directory: key→value recall among distractors (<see cref="RecallTaskGenerator"/>, the default, with recall
/// accuracy on held-out documents at every evaluation), needles in text (<see cref="NeedleDataset"/>, needle accuracy)
/// the needle task with fixed facts (faithfulness figures besides) and in-context classification of labelled examples
/// (<see cref="IclDataset"/>, ICL accuracy on held-out episodes).
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

    /// <summary>
    /// The needle and facts tasks' shape for training documents of <paramref name="contextLength"/> tokens (the training
    /// context), with the default template (<see cref="NeedleTemplate"/>). The facts task adds
    /// <see cref="NeedleTaskOptions.DefaultFactKeys"/> with values drawn from <see cref="Seed"/>.
    /// </summary>
    public static NeedleTaskOptions NeedleOptions(BuiltinTaskKind kind, int contextLength)
    {
        var options = new NeedleTaskOptions { ContextLength = contextLength };
        if (kind != BuiltinTaskKind.Facts) return options;
        var rng = new Random((int)(CounterHash.Hash((ulong)Seed, 0x66616374) & 0x7FFFFFFF));
        var values = NeedleBuilder.DrawValues(rng, NeedleTaskOptions.DefaultFactKeys.Count, options.ValueDigits);
        return options with { Facts = NeedleTaskOptions.DefaultFactKeys.Select((k, i) => new NeedleFact(k, values[i])).ToList() };
    }

    /// <summary>
    /// The dataset directory of a built-in task, generating it when <paramref name="dir"/> does not hold that task as asked
    /// (the recall task: any recall dataset; needle and facts: the same options, haystack and generator version) and
    /// replacing what it held otherwise. <paramref name="haystack"/> (files or corpora; empty: generated filler) and
    /// <paramref name="contextLength"/> apply to the needle and facts tasks only. Without <paramref name="mayGenerate"/>
    /// (a resume) nothing is generated: a directory that does not hold the task as asked is refused, saying what differs,
    /// since the run was trained on what it holds and documents generated anew (by a newer generator, say) would differ.
    /// The icl task reads its episodes' labelled <paramref name="examples"/> with <paramref name="icl"/> (default
    /// <see cref="IclTaskOptions"/>), its documents <paramref name="contextLength"/> tokens at most.
    /// </summary>
    public static string EnsureDataset(string dir, Action<string> log, BuiltinTaskKind kind = BuiltinTaskKind.Recall,
        IReadOnlyList<string>? haystack = null, string haystackField = "text", int contextLength = 256, bool mayGenerate = true,
        IReadOnlyList<string>? examples = null, IclTaskOptions? icl = null)
    {
        haystack ??= [];
        bool held = File.Exists(Path.Combine(dir, DatasetMeta.FileName));
        if (kind == BuiltinTaskKind.Icl) return EnsureIcl(dir, log, haystack, contextLength, mayGenerate, examples ?? [], (icl ?? new()).Validate(), held);
        if (kind == BuiltinTaskKind.Recall)
        {
            if (haystack.Count > 0) throw new ArgumentException("a haystack applies to the needle and facts tasks, not to the recall task");
            if (held && RecallDataset.ReadTask(dir) is not null) return dir;
            if (!mayGenerate) throw Refused(dir, "recall", held ? "holds another dataset than the recall task" : "holds no dataset");
            log($"generating the built-in key→value recall task into {dir}: {TrainDocuments:N0} train and {ValDocuments:N0} held-out documents ({TaskOptions.Describe()})");
            RecallDataset.Write(dir, TaskOptions, TrainDocuments, ValDocuments, Seed, force: true);
            return dir;
        }
        var options = NeedleOptions(kind, contextLength).Validate();
        var inputs = haystack.Select(Path.GetFullPath).ToList();
        string name = kind == BuiltinTaskKind.Facts ? "facts" : "needle";
        var task = held ? NeedleDataset.ReadTask(dir) : null;
        var differences = task is null ? null : NeedleDifferences(task, options, inputs, haystackField);
        if (differences is { Count: 0 }) return dir;
        if (!mayGenerate)
            throw Refused(dir, name, task is null ? (held ? "holds another dataset than the needle task (no needle_task.json)" : "holds no dataset")
                                                  : $"holds the needle task of {string.Join("; ", differences!)}");
        if (task is not null) log($"{dir} holds another needle dataset ({task.Options.Describe()}); generating the {name} task in its place");
        string source = inputs.Count == 0 ? "generated filler text" : string.Join(", ", inputs);
        log($"generating the built-in {name} task into {dir}: {TrainDocuments:N0} train and {ValDocuments:N0} held-out documents in {source} ({options.Describe()})");
        NeedleDataset.Write(dir, options, inputs, haystackField, TrainDocuments, ValDocuments, Seed, force: true);
        return dir;
    }

    private static string EnsureIcl(string dir, Action<string> log, IReadOnlyList<string> haystack, int contextLength, bool mayGenerate,
        IReadOnlyList<string> examples, IclTaskOptions options, bool held)
    {
        if (haystack.Count > 0) throw new ArgumentException("a haystack applies to the needle and facts tasks, not to the icl task");
        if (examples.Count == 0) throw new ArgumentException("the icl task needs labelled examples: --examples FILE… (JSONL with a text and a label field)");
        var inputs = examples.Select(Path.GetFullPath).ToList();
        var task = held ? IclDataset.ReadTask(dir) : null;
        var d = new List<string>();
        if (task is not null)
        {
            if (task.GeneratorVersion != IclTaskFile.CurrentGeneratorVersion)
                d.Add($"generator version {task.GeneratorVersion} (this difft generates version {IclTaskFile.CurrentGeneratorVersion})");
            if (task.Seed != Seed) d.Add($"seed {task.Seed} (the built-in task's is {Seed})");
            if (!task.Examples.SequenceEqual(inputs)) d.Add($"examples [{string.Join(", ", task.Examples)}] (asked: [{string.Join(", ", inputs)}])");
            if (task.ContextLength != contextLength) d.Add($"context_length {task.ContextLength} (asked: {contextLength})");
            if (Json.Serialize(task.Options) != Json.Serialize(options)) d.Add($"options {task.Options.Describe()} (asked: {options.Describe()})");
            if (d.Count == 0) return dir;
        }
        if (!mayGenerate)
            throw Refused(dir, "icl", task is null ? (held ? "holds another dataset than the icl task (no icl_task.json)" : "holds no dataset")
                                                   : $"holds the icl task of {string.Join("; ", d)}");
        if (task is not null) log($"{dir} holds another icl dataset ({task.Options.Describe()}); generating the icl task in its place");
        log($"generating the built-in in-context classification task into {dir}: {TrainDocuments:N0} train and {ValDocuments:N0} held-out episodes " +
            $"of {contextLength} tokens from {string.Join(", ", inputs)} ({options.Describe()})");
        IclDataset.Write(dir, options, inputs, contextLength, TrainDocuments, ValDocuments, Seed, force: true);
        return dir;
    }

    /// <summary>What the needle dataset <paramref name="held"/> has other than the one asked, as "what it has (what is asked)"; empty when it is that one.</summary>
    private static List<string> NeedleDifferences(NeedleTaskFile held, NeedleTaskOptions options, IReadOnlyList<string> inputs, string haystackField)
    {
        var d = new List<string>();
        if (held.GeneratorVersion != NeedleTaskFile.CurrentGeneratorVersion)
            d.Add($"generator version {held.GeneratorVersion} (this difft generates version {NeedleTaskFile.CurrentGeneratorVersion})");
        if (held.Seed != Seed) d.Add($"seed {held.Seed} (the built-in task's is {Seed})");
        if (!held.Haystack.SequenceEqual(inputs))
            d.Add($"haystack [{string.Join(", ", held.Haystack)}] (asked: [{string.Join(", ", inputs)}])");
        if (held.HaystackField != haystackField) d.Add($"haystack_field \"{held.HaystackField}\" (asked: \"{haystackField}\")");
        if (Json.Serialize(held.Options) != Json.Serialize(options)) d.Add($"options {held.Options.Describe()} (asked: {options.Describe()})");
        return d;
    }

    private static InvalidDataException Refused(string dir, string name, string why) =>
        new($"{dir} {why}, but --resume continues a run trained on the built-in {name} task generated there and does not generate it anew " +
            "(the documents could differ from those the run was trained on); start over with --force, or resume with the difft that started the run");

    /// <summary>
    /// Where a dataset's training windows start unless told: at document boundaries for the needle, facts and icl tasks,
    /// whose documents are as long as the training context (a uniform window would cut the needle off most of the answers
    /// it holds, and an episode off its first demonstrations), uniformly for anything else.
    /// </summary>
    public static WindowSampling DefaultWindows(string dataDir) =>
        NeedleDataset.ReadTask(dataDir) is not null || IclDataset.ReadTask(dataDir) is not null ? WindowSampling.Documents : WindowSampling.Uniform;

    /// <summary>
    /// The task score of a generated dataset: needle accuracy for a needle dataset (<see cref="NeedleTaskEvaluator"/>), ICL
    /// accuracy on held-out episodes for an icl dataset (<see cref="IclTaskEvaluator"/>), recall accuracy on the held-out
    /// documents of a recall dataset; null for any other dataset. Refuses, before any training, a model whose context
    /// cannot hold a whole document.
    /// </summary>
    public static ITaskEvaluator? Evaluator(string dataDir, int maxSeqLen)
    {
        if (NeedleDataset.ReadTask(dataDir) is { } needle) return new NeedleTaskEvaluator(needle, maxSeqLen);
        if (IclDataset.ReadTask(dataDir) is { } icl) return new IclTaskEvaluator(icl, IclDataset.ReadExamples(dataDir), maxSeqLen);
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
