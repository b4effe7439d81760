using DiffTransformer.Data;
using DiffTransformer.Tasks;

namespace DiffTransformer.Training;

/// <summary>
/// A run the trainer has checked and may start: its directory, its options (absolute paths, vocabulary resolved
/// against the data), the open dataset, the task evaluator and, on resume, the checkpoint to continue from.
/// </summary>
internal sealed record RunPlan(RunDirectory Run, TrainOptions Options, string DataDir, TokenDataset Dataset, ITaskEvaluator? Task, string? ResumeDir)
    : IDisposable
{
    public void Dispose() => Dataset.Dispose();
}
