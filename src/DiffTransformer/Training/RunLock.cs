namespace DiffTransformer.Training;

/// <summary>
/// The exclusive claim of one trainer on a run directory: an OS file lock on <c>.lock</c> in it, held from before the
/// run's data and files are looked at until the trainer ends, and released by the OS when the process dies (kill -9
/// included), so a crash never leaves a run locked. The file itself stays (its presence means nothing).
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".lock";
    private readonly FileStream stream;
    private readonly string dir;
    private readonly bool created;

    /// <summary>Test hook: called just before <see cref="ReleaseUnused"/> deletes the directory it created.</summary>
    internal static Action<string>? BeforeUnusedDeleted;

    private RunLock(FileStream stream, string dir, bool created)
    {
        this.stream = stream;
        this.dir = dir;
        this.created = created;
    }

    /// <summary>
    /// Takes the lock of <paramref name="runDir"/> (created if needed), or says that another trainer holds it. Only a
    /// lock conflict is reported so: any other failure to open the lock file (a read-only file system, permissions, a
    /// broken link) is reported as what it is, with the path, since "wait for the other trainer" would send the user
    /// after a trainer that does not exist.
    /// </summary>
    public static RunLock Acquire(string runDir)
    {
        bool created = !Directory.Exists(runDir);
        Directory.CreateDirectory(runDir);
        string path = Path.Combine(runDir, FileName);
        try
        {
            // FileShare.None is an exclusive, non-blocking flock on Unix and a share-mode lock on Windows
            return new RunLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1), runDir, created);
        }
        catch (IOException e) when (HeldElsewhere(e))
        {
            throw new IOException($"{runDir} is in use by another trainer (it holds the lock {path}); wait for it to end or stop it, or train into another --out", e);
        }
        // permission denied comes as UnauthorizedAccessException: an IOException here too, which the CLI reports as the
        // user's to fix; a vanished directory's exceptions name the path already
        catch (Exception e) when (e is UnauthorizedAccessException || e is IOException and not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"cannot open the lock file {path} of {runDir}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Whether opening the lock file failed because another handle holds the lock: a sharing or lock violation on Windows,
    /// EWOULDBLOCK from the non-blocking flock on Unix (.NET puts the errno in HResult: 11 on Linux, 35 on macOS and the BSDs).
    /// </summary>
    private static bool HeldElsewhere(IOException e) => OperatingSystem.IsWindows()
        ? (e.HResult & 0xFFFF) is 32 or 33                                     // ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
        : e.HResult == (OperatingSystem.IsLinux() ? 11 : 35);

    /// <summary>
    /// Releases the lock of a run that was refused before it wrote anything: when <see cref="Acquire"/> created the
    /// directory and it holds nothing but the lock file, both go, so a refused run leaves no trace. On Unix (which
    /// unlinks an open file) they go while the lock is still held, so no other trainer can take the run in between and
    /// lose its directory. Windows refuses to delete an open file, so there they go just after the release, which is as
    /// safe: a trainer that took the lock in the meantime holds the lock file open (its deletion fails), and the directory
    /// is deleted only if empty.
    /// </summary>
    public void ReleaseUnused()
    {
        if (!OperatingSystem.IsWindows()) DeleteIfUnused();
        stream.Dispose();
        if (OperatingSystem.IsWindows()) DeleteIfUnused();
    }

    private void DeleteIfUnused()
    {
        if (!created) return;
        try
        {
            if (!Directory.Exists(dir) || !Directory.GetFileSystemEntries(dir).All(e => Path.GetFileName(e) == FileName)) return;
            BeforeUnusedDeleted?.Invoke(dir);
            File.Delete(Path.Combine(dir, FileName));
            Directory.Delete(dir);                                               // not recursive: only an empty directory goes
        }
        catch (IOException) { }                                                  // another trainer got in: its directory now
    }

    /// <summary>
    /// Deletes everything in the run directory but the lock file, while the lock is held: a run deleted without its lock
    /// could be one a trainer is still writing.
    /// </summary>
    public void DeleteRun()
    {
        foreach (var entry in Directory.GetFileSystemEntries(dir).Where(e => Path.GetFileName(e) != FileName))
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    public void Dispose() => stream.Dispose();
}
