using DiffTransformer.Model;

namespace DiffTransformer.Tasks;

/// <summary>Measures a model on a task beyond the loss (e.g. recall accuracy); called at each evaluation.</summary>
public interface ITaskEvaluator
{
    IReadOnlyDictionary<string, double> Evaluate(LanguageModel model);
}
