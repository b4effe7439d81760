using System.CommandLine;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>
/// Runs a verb's body: the errors a user can cause become one line on stderr (exit 1); anything else is a bug and is
/// printed whole, stack and all (exit <see cref="InternalError"/>).
/// </summary>
public static class CliAction
{
    public const int Ok = 0;
    public const int Failed = 1;

    /// <summary>EX_SOFTWARE (sysexits.h): an exception the program did not expect.</summary>
    public const int InternalError = 70;

    /// <summary>128 + SIGINT: stopped on request after saving what could be saved.</summary>
    public const int Interrupted = 130;

    public static void Set(Command command, Func<ParseResult, int> body) =>
        command.SetAction(parse => Run(() => body(parse), parse.Stderr()));

    public static int Run(Func<int> body, TextWriter stderr)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"internal error: {e}");
            return InternalError;
        }
    }

    /// <summary>
    /// What the library throws for bad input: its own exceptions, missing or unreadable files, and plain
    /// <see cref="ArgumentException"/> (its validation). Subclasses such as ArgumentOutOfRangeException and
    /// ArgumentNullException mean a caller broke a contract: a bug, not a user error.
    /// </summary>
    public static bool IsUserError(Exception e) =>
        e is ConfigException or SafeTensorsException or UsageException or InvalidDataException or IOException // incl. FileNotFound, DirectoryNotFound
        || e.GetType() == typeof(ArgumentException);
}
