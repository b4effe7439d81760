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
    /// directory and it holds nothing but the lock file, both go, so a refused run leaves no trace.
    /// </summary>
    public void ReleaseUnused()
    {
        stream.Dispose();
        if (!created) return;
        try
        {
            if (Directory.GetFileSystemEntries(dir).All(e => Path.GetFileName(e) == FileName)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }                                                  // another trainer got in between: its directory now
    }

    public void Dispose() => stream.Dispose();
}
