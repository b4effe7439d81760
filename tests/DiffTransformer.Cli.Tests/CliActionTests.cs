using DiffTransformer.Cli.Common;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Tests;

/// <summary>Expected user errors become one line and exit 1; anything else is a bug, printed whole with its own exit code.</summary>
public sealed class CliActionTests
{
    private static (int Code, string Stderr) Run(Exception e)
    {
        var stderr = new StringWriter();
        int code = CliAction.Run(() => throw e, stderr);
        return (code, stderr.ToString());
    }

    public static TheoryData<Exception> UserErrors => new()
    {
        new ArgumentException("top-p must be in (0, 1], got 0"),
        new ConfigException("unknown preset 'x'"),
        new SafeTensorsException("bad header"),
        new FileNotFoundException("no such file"),
        new DirectoryNotFoundException("no such directory"),
        new InvalidDataException("truncated shard"),
        new IOException("disk full"),
        new UsageException("give either --a or --b"),
    };

    public static TheoryData<Exception> InternalErrors => new()
    {
        new ArgumentOutOfRangeException("tokens", "token id 300 is outside the vocabulary [0, 257)"),
        new ArgumentNullException("prompt"),
        new InvalidOperationException("the KV cache is inconsistent"),
        new NullReferenceException(),
        new NotSupportedException("dtype"),
        new FormatException("malformed pair"),
    };

    [Theory]
    [MemberData(nameof(UserErrors))]
    public void UserErrorIsOneLine(Exception e)
    {
        var (code, stderr) = Run(e);
        Assert.Equal(CliAction.Failed, code);
        Assert.Equal($"error: {e.Message}{Environment.NewLine}", stderr);
    }

    [Theory]
    [MemberData(nameof(InternalErrors))]
    public void InternalErrorIsPrintedWhole(Exception e)
    {
        var (code, stderr) = Run(e);
        Assert.Equal(CliAction.InternalError, code);
        Assert.Equal(70, code);
        Assert.StartsWith("internal error: " + e.GetType().FullName, stderr);
        Assert.Contains(e.Message, stderr);
        Assert.Contains(" at ", stderr);   // the stack
        Assert.Contains(nameof(CliActionTests), stderr);
    }

    [Fact]
    public void ExitCodesAreDistinct()
    {
        int[] codes = [CliAction.Ok, CliAction.Failed, CliAction.InternalError, CliAction.Interrupted];
        Assert.Equal(codes.Length, codes.Distinct().Count());
    }

    [Fact]
    public void ReturnsTheBodysCode()
    {
        var stderr = new StringWriter();
        Assert.Equal(130, CliAction.Run(() => 130, stderr));
        Assert.Equal("", stderr.ToString());
    }
}
