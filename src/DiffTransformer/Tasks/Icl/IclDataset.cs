using DiffTransformer.Data;
using DiffTransformer.IO;

namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// Writes the in-context classification task (<see cref="IclEpisodes.TrainingDocument"/>) as an ordinary byte-level
/// token dataset with icl_task.json and the split examples beside it: training documents are episodes of training
/// examples, validation documents episodes of held-out ones, so no held-out example is ever trained on. Document i of a
/// split depends only on (seed, split, i) (<see cref="GeneratedSplit"/>), so the same arguments give the same bytes.
/// </summary>
public static class IclDataset
{
    public const string TokenizerName = "byte";
    private const ulong ValSalt = 0x69636C2D76616C00UL;

    /// <summary>
    /// Reads the examples of <paramref name="inputs"/> and generates the dataset into <paramref name="dir"/> (refused
    /// when it holds anything but a dataset, or a dataset without <paramref name="force"/>, and when a context of
    /// <paramref name="contextLength"/> tokens cannot hold one demonstration and a query).
    /// </summary>
    public static DatasetMeta Write(string dir, IclTaskOptions options, IReadOnlyList<string> inputs, int contextLength,
        long trainDocs, long valDocs, long seed, bool force = false, long shardTokens = 100_000_000)
    {
        options.Validate();
        if (trainDocs < 1) throw new ArgumentException($"train documents must be at least 1, got {trainDocs}");
        if (valDocs < 1) throw new ArgumentException($"val documents must be at least 1, got {valDocs}");
        var paths = inputs.Select(Path.GetFullPath).ToList();
        var set = IclExamples.Read(paths, options);
        var tokenizer = Tokenizers.Create(TokenizerName);
        var encoding = IclFormat.Encode(tokenizer, set, options);
        CheckFits(encoding, options, contextLength, "a training context (--seq-len)");
        var task = new IclTaskFile
        {
            Seed = seed, TrainDocuments = trainDocs, ValDocuments = valDocs, Examples = paths, Options = options, ContextLength = contextLength,
            Classes = set.Classes, TrainExamples = set.Train.Sum(c => c.Length), TestExamples = set.Test.Sum(c => c.Length),
        };
        string source = $"in-context classification task (difft, generator v{IclTaskFile.CurrentGeneratorVersion}, seed {seed}) of {set.Source}: " +
                        $"{set.Classes.Count} classes, {task.TrainExamples:N0} training and {task.TestExamples:N0} held-out examples; {options.Describe()}";
        return DatasetDirectory.WriteGenerated(dir, force, "icl", tokenizer, seed, shardTokens, source,
            staging => (WriteSplit(staging, "train", set, encoding, options, contextLength, trainDocs, test: false, (ulong)seed, shardTokens),
                        WriteSplit(staging, "val", set, encoding, options, contextLength, valDocs, test: true, (ulong)seed ^ ValSalt, shardTokens)),
            new Dictionary<string, string>
            {
                [IclTaskFile.FileName] = Json.Serialize(task) + "\n",
                [IclTaskFile.ExamplesFileName] = Json.Serialize(set, Json.Lines) + "\n",
            });
    }

    /// <summary>
    /// Refuses a context that holds no demonstration before a query (<see cref="IclEncoding.MaxShots"/> below 1), naming
    /// <paramref name="what"/>, its length and what one example takes; returns the most shots it holds.
    /// </summary>
    public static int CheckFits(IclEncoding encoding, IclTaskOptions options, int context, string what)
    {
        int shots = encoding.MaxShots(context);
        if (shots < 1)
            throw new ArgumentException($"{what} of {context} tokens cannot hold even 1 demonstration and a query: with the end-of-text they take up to " +
                                        $"{1 + 2 * encoding.DemonstrationBound} tokens (an example up to {encoding.DemonstrationBound}: a text of at most {options.MaxTextBytes} bytes, " +
                                        $"\" {IclFormat.Arrow}\" and a name); use a longer context or a smaller --max-text-bytes");
        return shots;
    }

    /// <summary>icl_task.json of a dataset directory; null when it has none.</summary>
    public static IclTaskFile? ReadTask(string dir) => TaskFile.Read<IclTaskFile>(dir, IclTaskFile.FileName, IclTaskFile.TaskName);

    /// <summary>The split examples a dataset was generated from.</summary>
    public static IclExampleSet ReadExamples(string dir) => Json.Read<IclExampleSet>(Path.Combine(dir, IclTaskFile.ExamplesFileName));

    private static SplitMeta WriteSplit(string dir, string split, IclExampleSet set, IclEncoding encoding, IclTaskOptions options, int context,
        long documents, bool test, ulong seed, long shardTokens) =>
        GeneratedSplit.Write(dir, split, Tokenizers.Create(TokenizerName), documents, seed, shardTokens,
                             rng => IclEpisodes.TrainingDocument(set, encoding, options, context, test, rng));
}
