using DiffTransformer.Data;
using DiffTransformer.IO;

namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// Writes the recall task (<see cref="RecallTaskGenerator"/>) as an ordinary token dataset that
/// <see cref="TokenDataset.Open"/> reads: byte tokenizer, end-of-text after every document, meta.json, plus
/// recall_task.json. Train documents come from <see cref="RecallStream.Train"/>; the val split holds held-out documents
/// (<see cref="RecallStream.Heldout"/>), which are also the evaluation examples (<see cref="ReadEvalExamples(TokenDataset, int)"/>).
/// </summary>
public static class RecallDataset
{
    /// <summary>The tokenizer of every synthetic dataset: the task is byte-level ASCII.</summary>
    public const string TokenizerName = "byte";

    /// <summary>Shards are cut after this many tokens (as <see cref="PrepareOptions.ShardTokens"/>).</summary>
    public const long DefaultShardTokens = 100_000_000;

    private const int ChunkDocuments = 4096;

    /// <summary>
    /// Generates <paramref name="trainDocs"/> training and <paramref name="valDocs"/> held-out documents into the dataset
    /// directory <paramref name="dir"/>, written as a temp sibling and renamed into place when complete. A non-empty
    /// <paramref name="dir"/> is refused unless <paramref name="force"/>. Returns the description written to meta.json.
    /// </summary>
    public static DatasetMeta Write(string dir, RecallTaskOptions options, long trainDocs, long valDocs, long seed, bool force = false, long shardTokens = DefaultShardTokens)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var generator = new RecallTaskGenerator(options, seed);
        if (trainDocs < 1) throw new ArgumentException($"train documents must be at least 1, got {trainDocs}");
        if (valDocs < 1) throw new ArgumentException($"val documents must be at least 1, got {valDocs}");
        var tokenizer = Tokenizers.Create(TokenizerName);
        var task = new RecallTaskFile { Seed = seed, TrainDocuments = trainDocs, ValDocuments = valDocs, Options = options };
        return DatasetDirectory.WriteGenerated(dir, force, "synthetic", tokenizer, seed, shardTokens, Describe(options, seed),
            staging => (WriteSplit(staging, "train", generator, RecallStream.Train, trainDocs, tokenizer, shardTokens),
                        WriteSplit(staging, "val", generator, RecallStream.Heldout, valDocs, tokenizer, shardTokens)),
            new Dictionary<string, string> { [RecallTaskFile.FileName] = Json.Serialize(task) + "\n" });
    }

    /// <summary>meta.json's <c>source</c> for a synthetic dataset.</summary>
    public static string Describe(RecallTaskOptions options, long seed) =>
        $"synthetic key→value recall (difft built-in task, generator v{RecallTaskFile.CurrentGeneratorVersion}, seed {seed}): {options.Describe()}";

    /// <summary>Reads recall_task.json of a synthetic dataset directory; null when the directory has none (a prepared corpus).</summary>
    public static RecallTaskFile? ReadTask(string dir) => TaskFile.Read<RecallTaskFile>(dir, RecallTaskFile.FileName, RecallTaskFile.TaskName);

    /// <summary>
    /// The first <paramref name="maxExamples"/> documents of the val split as evaluation examples: decoded at each
    /// end-of-text and parsed (<see cref="RecallExample.Parse"/>). These are held-out documents, never trained on.
    /// </summary>
    public static IReadOnlyList<RecallExample> ReadEvalExamples(TokenDataset dataset, int maxExamples = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegative(maxExamples);
        var tokenizer = dataset.CreateTokenizer();
        var split = dataset.Val;
        var examples = new List<RecallExample>();
        foreach (var document in split.ReadDocuments(tokenizer.EndOfText))
        {
            if (examples.Count >= maxExamples) break;
            try
            {
                examples.Add(RecallExample.Parse(tokenizer.Decode(document)));
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{dataset.Directory}: val document {examples.Count} is not a recall document: {e.Message}");
            }
        }
        return examples;
    }

    /// <inheritdoc cref="ReadEvalExamples(TokenDataset, int)"/>
    public static IReadOnlyList<RecallExample> ReadEvalExamples(string dir, int maxExamples = int.MaxValue)
    {
        using var dataset = TokenDataset.Open(dir);
        return ReadEvalExamples(dataset, maxExamples);
    }

    private static SplitMeta WriteSplit(string dir, string split, RecallTaskGenerator generator, RecallStream stream, long documents, ITokenizer tokenizer, long shardTokens)
    {
        using var writer = new SplitWriter(dir, split, tokenizer, shardTokens);
        var chunk = new int[ChunkDocuments][];
        for (long start = 0; start < documents; start += ChunkDocuments)
        {
            int count = (int)Math.Min(ChunkDocuments, documents - start);
            // Document i depends only on (seed, stream, i), so the parallel draw is the same as a serial one.
            Parallel.For(0, count, i => chunk[i] = Encode(generator.Generate(start + i, stream).Text, tokenizer));
            for (int i = 0; i < count; i++) writer.AppendDocument(chunk[i], chunk[i].Length);   // ASCII: one byte per token
        }
        return writer.Complete();
    }

    private static int[] Encode(string text, ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode(text);
        // The generator writes ASCII only; a mismatch here would shift every span of the document.
        if (ids.Length != text.Length) throw new InvalidOperationException($"recall document is not one byte per character: \"{text}\"");
        return ids;
    }
}
