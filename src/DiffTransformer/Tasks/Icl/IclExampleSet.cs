using System.Text.Json.Serialization;

namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// The labelled examples of a corpus, split by example into train and test (<see cref="IclExamples.Read"/>): the
/// classes (the label field's distinct values, in ordinal order) and every example. Episodes draw their
/// demonstrations from <see cref="Train"/> and their queries from <see cref="Test"/>.
/// </summary>
public sealed record IclExampleSet(string Source, IReadOnlyList<string> Classes, IReadOnlyList<IclExample> Examples)
{
    private int[][]? train, test;

    /// <summary>Per class, the indices of its training examples (ascending).</summary>
    [JsonIgnore] public IReadOnlyList<int[]> Train => train ??= ByClass(test: false);

    /// <summary>Per class, the indices of its test examples (ascending).</summary>
    [JsonIgnore] public IReadOnlyList<int[]> Test => test ??= ByClass(test: true);

    /// <summary>Per class, the examples of one split: <see cref="Test"/> or <see cref="Train"/>.</summary>
    public IReadOnlyList<int[]> Split(bool test) => test ? Test : Train;

    private int[][] ByClass(bool test) =>
        Enumerable.Range(0, Classes.Count).Select(c => Enumerable.Range(0, Examples.Count).Where(i => Examples[i].Class == c && Examples[i].Test == test).ToArray()).ToArray();
}
