using DiffTransformer.Model;

namespace DiffTransformer.Tasks;

/// <summary>Measures a model on a task beyond the loss (e.g. recall accuracy); called at each evaluation.</summary>
public interface ITaskEvaluator
{
    IReadOnlyDictionary<string, double> Evaluate(LanguageModel model);

    /// <summary>
    /// What the evaluator cannot measure, or measures otherwise than usual, for this run (e.g. a metric whose prompts do
    /// not fit the context), as sentences: said once, when training starts, since a metric missing from every evaluation
    /// would otherwise go unexplained.
    /// </summary>
    IReadOnlyList<string> Warnings => [];
}
