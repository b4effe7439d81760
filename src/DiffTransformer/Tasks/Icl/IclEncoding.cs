namespace DiffTransformer.Tasks.Icl;

/// <summary>
/// An example set's pieces under one tokenizer (<see cref="IclFormat.Encode"/>): each example's text, the separator
/// <c>" →"</c>, and per label name of the pool the continuation an episode scores, <c>" {name}"</c> then <c>"\n"</c>.
/// </summary>
public sealed class IclEncoding(int endOfText, int[][] texts, int[] arrow, int[][] names)
{
    public int EndOfText { get; } = endOfText;

    /// <summary>Per example (as in <see cref="IclExampleSet.Examples"/>), its text's tokens.</summary>
    public IReadOnlyList<int[]> Texts { get; } = texts;

    public int[] Arrow { get; } = arrow;

    /// <summary>Per name of the pool, <c>" {name}\n"</c>'s tokens: what follows a text's arrow.</summary>
    public IReadOnlyList<int[]> Names { get; } = names;

    /// <summary>The most tokens one demonstration (or the query with its label) can take: the longest text, the arrow, the longest name.</summary>
    public int DemonstrationBound { get; } = (texts.Length == 0 ? 0 : texts.Max(t => t.Length)) + arrow.Length + names.Max(n => n.Length);

    /// <summary>
    /// The most demonstrations that fit <paramref name="context"/> tokens before a query, whatever is drawn: the
    /// end-of-text, k demonstrations and the query with its label, each at <see cref="DemonstrationBound"/>, within the
    /// context, so <c>k = ⌊(context − 1) / bound⌋ − 1</c> (0 or less: not even one).
    /// </summary>
    public int MaxShots(int context) => (context - 1) / DemonstrationBound - 1;

    /// <summary>A demonstration's tokens: <paramref name="example"/>'s text, the arrow, then the pool's name <paramref name="name"/>.</summary>
    public int[] Demonstration(int example, int name) => [.. Texts[example], .. Arrow, .. Names[name]];

    /// <summary>A query's tokens: its text and the arrow, which a name continues.</summary>
    public int[] Query(int example) => [.. Texts[example], .. Arrow];
}
