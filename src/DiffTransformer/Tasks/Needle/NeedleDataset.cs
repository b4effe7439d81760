using DiffTransformer.Data;
using DiffTransformer.IO;

namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// Writes the needle task (<see cref="NeedleBuilder.TrainingDocument"/>) as an ordinary byte-level token dataset with
/// needle_task.json beside it. Document i of a split depends only on (seed, split, i) (<see cref="GeneratedSplit"/>),
/// so the same arguments give the same bytes.
/// </summary>
public static class NeedleDataset
{
    public const string TokenizerName = "byte";
    private const ulong ValSalt = 0x6E6565646C652D76UL;

    /// <summary>The haystack a task file names: its files re-read, or the generated filler of its seed.</summary>
    public static Haystack OpenHaystack(IReadOnlyList<string> inputs, string field, long seed) =>
        inputs.Count == 0 ? Haystack.Generated(seed) : Haystack.FromFiles(inputs, field);

    /// <summary>
    /// Generates the dataset into <paramref name="dir"/> (refused when it holds anything but a dataset, or a dataset
    /// without <paramref name="force"/>). <paramref name="haystackInputs"/> empty: generated filler.
    /// </summary>
    public static DatasetMeta Write(string dir, NeedleTaskOptions options, IReadOnlyList<string> haystackInputs, string haystackField,
        long trainDocs, long valDocs, long seed, bool force = false, long shardTokens = 100_000_000)
    {
        options.Validate();
        if (trainDocs < 1) throw new ArgumentException($"train documents must be at least 1, got {trainDocs}");
        if (valDocs < 1) throw new ArgumentException($"val documents must be at least 1, got {valDocs}");
        var inputs = haystackInputs.Select(Path.GetFullPath).ToList();
        var haystack = OpenHaystack(inputs, haystackField, seed);
        var tokenizer = Tokenizers.Create(TokenizerName);
        var task = new NeedleTaskFile
        {
            Seed = seed, TrainDocuments = trainDocs, ValDocuments = valDocs, Haystack = inputs, HaystackField = haystackField, Options = options,
        };
        string source = $"needle task (difft, generator v{NeedleTaskFile.CurrentGeneratorVersion}, seed {seed}) in {haystack.Source}: {options.Describe()}";
        return DatasetDirectory.WriteGenerated(dir, force, "needle", tokenizer, seed, shardTokens, source,
            staging => (WriteSplit(staging, "train", options, haystack, tokenizer, trainDocs, (ulong)seed, shardTokens),
                        WriteSplit(staging, "val", options, haystack, tokenizer, valDocs, (ulong)seed ^ ValSalt, shardTokens)),
            new Dictionary<string, string> { [NeedleTaskFile.FileName] = Json.Serialize(task) + "\n" });
    }

    /// <summary>needle_task.json of a dataset directory; null when it has none.</summary>
    public static NeedleTaskFile? ReadTask(string dir) => TaskFile.Read<NeedleTaskFile>(dir, NeedleTaskFile.FileName, NeedleTaskFile.TaskName);

    /// <summary>The random source of document <paramref name="index"/> of a split.</summary>
    public static Random DocumentRandom(ulong seed, long index) => GeneratedSplit.DocumentRandom(seed, index);

    private static SplitMeta WriteSplit(string dir, string split, NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, long documents, ulong seed, long shardTokens)
    {
        haystack.Tokens(tokenizer);                                               // encode once before the parallel draw
        return GeneratedSplit.Write(dir, split, tokenizer, documents, seed, shardTokens, rng => NeedleBuilder.TrainingDocument(options, haystack, tokenizer, rng));
    }
}
