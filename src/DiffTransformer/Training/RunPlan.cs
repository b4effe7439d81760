using DiffTransformer.Data;
using DiffTransformer.Tasks;

namespace DiffTransformer.Training;

/// <summary>
/// A run the trainer has checked and may start: its directory, its options (absolute paths, vocabulary resolved
/// against the data), the open dataset, the task evaluator and, on resume, the checkpoint to continue from and the
/// damaged ones passed over (which the checkpoint pruning must not count as kept).
/// </summary>
internal sealed record RunPlan(RunDirectory Run, TrainOptions Options, string DataDir, TokenDataset Dataset, ITaskEvaluator? Task, string? ResumeDir,
    IReadOnlySet<string> DamagedCheckpoints) : IDisposable
{
    public void Dispose() => Dataset.Dispose();
}
