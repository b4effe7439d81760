namespace DiffTransformer.Tasks;

/// <summary>The description a generated task's dataset keeps beside its shards (recall_task.json, needle_task.json).</summary>
public interface ITaskFile
{
    /// <summary>The task's name, checked on reading.</summary>
    string Task { get; }
}
