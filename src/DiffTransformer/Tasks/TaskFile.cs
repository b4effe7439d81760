using DiffTransformer.IO;

namespace DiffTransformer.Tasks;

/// <summary>Reading a generated task's description file from its dataset directory.</summary>
public static class TaskFile
{
    /// <summary>
    /// <paramref name="fileName"/> in <paramref name="dir"/>, parsed and checked to name <paramref name="taskName"/>; null when
    /// the directory has no such file (another kind of dataset). Errors name the file.
    /// </summary>
    public static T? Read<T>(string dir, string fileName, string taskName) where T : class, ITaskFile
    {
        string path = Path.Combine(dir, fileName);
        if (!File.Exists(path)) return null;
        var task = Json.Parse<T>(File.ReadAllText(path), path) ?? throw new InvalidDataException($"{path}: empty task description");
        if (task.Task != taskName) throw new InvalidDataException($"{path}: task is '{task.Task}', expected '{taskName}'");
        return task;
    }
}
