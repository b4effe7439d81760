namespace DiffTransformer.Evaluation;

/// <summary>
/// What a suite produced: its options and result (the JSON report's), the tables, one headline dictionary per model (the
/// figures a study aggregates over seeds, in the models' order) and its plots.
/// </summary>
public sealed record EvalSuiteOutput(string Suite, IReadOnlyList<EvalModelInfo> Models, object Options, object Result, string Markdown,
    IReadOnlyList<IReadOnlyDictionary<string, double>> Headlines, Action<string> WritePlots)
{
    /// <summary>Writes <c>&lt;suite&gt;.json</c>, <c>&lt;suite&gt;.md</c> and the plots into <paramref name="outDir"/>; returns the two files.</summary>
    public (string Json, string Markdown) Write(string outDir, string commandLine, bool plots = true)
    {
        var files = EvalReport.Write(outDir, Suite, commandLine, Models, Options, Result, Markdown);
        if (plots) WritePlots(outDir);
        return files;
    }
}
