using DiffTransformer.Data;
using DiffTransformer.Inference;
using DiffTransformer.Model;

namespace DiffTransformer.Evaluation;

/// <summary>
/// A saved model loaded for evaluation, with its tokenizer and a label for tables. Accepts a model directory, its
/// weights file, or a run directory whose <c>final/</c> holds the model.
/// </summary>
public sealed class EvalModel : IDisposable
{
    private EvalModel(string path, string label, TextGenerator generator)
    {
        Path = path;
        Label = label;
        Generator = generator;
    }

    /// <summary>The model directory (absolute).</summary>
    public string Path { get; }

    /// <summary>Column heading: the architecture and the directory, e.g. "DIFF (runs/needle-compare/diff/final)".</summary>
    public string Label { get; }

    public TextGenerator Generator { get; }
    public LanguageModel Model => Generator.Model;
    public ITokenizer Tokenizer => Generator.Tokenizer;
    public ModelConfig Config => Model.Config;
    public long Parameters => Model.parameters().Sum(p => p.numel());

    /// <summary>What the JSON report records of the model.</summary>
    public EvalModelInfo Info => new(Path, Label, Config.Arch, Parameters, Tokenizer.Name, Config);

    /// <summary>Loads the model at <paramref name="path"/> with the attention <paramref name="kernel"/>.</summary>
    public static EvalModel Load(string path, AttentionKernel kernel = AttentionKernel.Blocked)
    {
        string dir = ModelStore.ResolveModelPath(path);
        var generator = TextGenerator.Load(dir, kernel: kernel);
        string arch = ArchitectureNames.Label(generator.Model.Config.Arch);
        return new EvalModel(System.IO.Path.GetFullPath(dir), $"{arch} ({RelativeOrFull(dir)})", generator);
    }

    /// <summary>Loads every model (labels made unique), disposing those already loaded when one fails.</summary>
    public static List<EvalModel> LoadAll(IReadOnlyList<string> paths, AttentionKernel kernel = AttentionKernel.Blocked)
    {
        if (paths.Count == 0) throw new ArgumentException("no models given (--models DIR [DIR …])");
        var models = new List<EvalModel>();
        try
        {
            foreach (var p in paths) models.Add(Load(p, kernel));
            var duplicates = models.GroupBy(m => m.Path).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (duplicates.Count > 0) throw new ArgumentException($"the model {duplicates[0]} is given twice");
            return models;
        }
        catch
        {
            foreach (var m in models) m.Dispose();
            throw;
        }
    }

    private static string RelativeOrFull(string dir)
    {
        string rel = System.IO.Path.GetRelativePath(Environment.CurrentDirectory, System.IO.Path.GetFullPath(dir));
        return rel.StartsWith("..", StringComparison.Ordinal) ? System.IO.Path.GetFullPath(dir) : rel;
    }

    public void Dispose() => Generator.Dispose();
}
