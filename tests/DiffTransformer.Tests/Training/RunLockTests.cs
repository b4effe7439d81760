using DiffTransformer.Tests.Data;
using DiffTransformer.Training;

namespace DiffTransformer.Tests.Training;

/// <summary>The run lock: held by one trainer at a time, and its failures reported as what they are.</summary>
[Collection("serial")] // the deletion hook is static
public sealed class RunLockTests : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    [Fact]
    public void AnIOErrorOtherThanAHeldLockIsReportedAsItselfWithThePath()
    {
        if (OperatingSystem.IsWindows()) return;                                  // symbolic links need privileges there
        string run = tmp["loop"];
        Directory.CreateDirectory(run);
        string path = Path.Combine(run, RunLock.FileName);
        File.CreateSymbolicLink(path, path);                                      // opening it fails with ELOOP, not a lock conflict
        var e = Assert.ThrowsAny<IOException>(() => RunLock.Acquire(run));
        Assert.DoesNotContain("in use by another trainer", e.Message);
        Assert.StartsWith($"cannot open the lock file {path} of {run}: ", e.Message);
        Assert.Contains("symbolic links", e.Message);

        string free = tmp["free"];
        using (RunLock.Acquire(free))                                             // a held lock is still reported as one
            Assert.StartsWith($"{free} is in use by another trainer", Assert.Throws<IOException>(() => RunLock.Acquire(free)).Message);
    }

    [Fact]
    public void AnUnusedRunDirectoryIsDeletedWhileItsLockIsStillHeld()
    {
        string run = tmp["unused"];
        var l = RunLock.Acquire(run);
        string? seen = null;
        RunLock.BeforeUnusedDeleted = dir =>
        {
            if (dir != run) return;                                               // a trainer of another test class
            try
            {
                RunLock.Acquire(dir).Dispose();                                   // another trainer could take the run in between…
                seen = "acquired";
            }
            catch (IOException e)
            {
                seen = e.Message;
            }
        };
        try
        {
            l.ReleaseUnused();
        }
        finally
        {
            RunLock.BeforeUnusedDeleted = null;
        }
        if (!OperatingSystem.IsWindows())                                         // …were the lock let go before the deletion
            Assert.StartsWith($"{run} is in use by another trainer", seen);
        Assert.False(Directory.Exists(run));
    }
}
