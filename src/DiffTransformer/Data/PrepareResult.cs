using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>The outcome of a prepare: the description written to meta.json and a few run statistics.</summary>
public sealed record PrepareResult(string OutputDirectory, DatasetMeta Meta, long EmptyDocumentsSkipped, long InputBytes, TimeSpan Elapsed)
{
    /// <summary>What the dataset holds that is probably not what was meant (an empty split, a binary input); the CLI prints them.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>One line for logs: tokenizer, each split's documents and tokens, the time, and the warnings.</summary>
    public string Describe() =>
        $"tokenizer {Meta.Tokenizer} (vocab {Meta.VocabSize:N0}); train {Meta.Train.Documents:N0} documents, {Meta.Train.Tokens:N0} tokens; " +
        $"val {Meta.Val.Documents:N0} documents, {Meta.Val.Tokens:N0} tokens; {Elapsed.TotalSeconds:F1} s" +
        string.Concat(Warnings.Select(w => "; warning: " + w));
}
