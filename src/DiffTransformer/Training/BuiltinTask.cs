namespace DiffTransformer.Training;

/// <summary>The built-in synthetic task `train` uses when given no data (wired to Data.Synthetic).</summary>
public static class BuiltinTask
{
    public static string EnsureDataset(string dir, Action<string> log) =>
        throw new NotSupportedException("the built-in task is not wired yet");

    public static ITaskEvaluator? Evaluator(string dataDir) => null;
}
