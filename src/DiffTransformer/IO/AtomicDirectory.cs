namespace DiffTransformer.IO;

/// <summary>
/// Directories that appear whole or not at all: build the content in a hidden sibling (same parent, so the final
/// rename is atomic on one file system), then rename it into place. A crash at any moment leaves either the old
/// directory or the new one under the final name, and at most a hidden sibling that <see cref="Leftovers"/> finds.
/// </summary>
public static class AtomicDirectory
{
    /// <summary>
    /// Refuses an output that already holds something, before any work: "{dir} already exists and is not empty;
    /// {verb} into a new directory" (a missing or empty directory is fine).
    /// </summary>
    public static void RequireNewOrEmpty(string dir, string verb)
    {
        if (File.Exists(dir) || (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any()))
            throw new IOException($"{dir} already exists and is not empty; {verb} into a new directory");
    }

    /// <summary>
    /// Creates an empty hidden sibling of <paramref name="final"/>, named <c>.{purpose}-{name}-{pid}-{guid}</c>,
    /// creating the parent if needed; returns its path.
    /// </summary>
    public static string CreateTempSibling(string final, string purpose)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(final));
        string parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"a root directory cannot be replaced: {full}");
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{purpose}-{Path.GetFileName(full)}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        return tmp;
    }

    /// <summary>Hidden siblings that <see cref="CreateTempSibling"/> made for <paramref name="purpose"/> in <paramref name="parent"/> (interrupted writes).</summary>
    public static IReadOnlyList<string> Leftovers(string parent, string purpose) => Directory.Exists(parent)
        ? Directory.GetDirectories(parent, $".{purpose}-*").Order(StringComparer.Ordinal).ToList()
        : [];

    /// <summary>
    /// Renames <paramref name="tmp"/> to <paramref name="final"/>. An existing <paramref name="final"/> is replaced as
    /// a whole — only for directories this program owns entirely (a checkpoint): it is swapped out to a hidden name
    /// first, so that a failure leaves either the old or the new directory, then deleted.
    /// </summary>
    public static void MoveIntoPlace(string tmp, string final)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(final));
        if (!Directory.Exists(full))
        {
            Directory.Move(tmp, full);
            return;
        }
        string old = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
        Directory.Move(full, old);
        try
        {
            Directory.Move(tmp, full);
        }
        catch
        {
            Directory.Move(old, full);
            throw;
        }
        TryDelete(old);
    }

    /// <summary>Deletes a directory tree, ignoring failures (for clean-up after an error, where the first error matters).</summary>
    public static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
