using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>The outcome of a prepare: the description written to meta.json and a few run statistics.</summary>
public sealed record PrepareResult(string OutputDirectory, DatasetMeta Meta, long EmptyDocumentsSkipped, long InputBytes, TimeSpan Elapsed)
{
    /// <summary>What the dataset holds that is probably not what was meant (an empty split, a binary input); the CLI prints them.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
