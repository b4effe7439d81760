using System.CommandLine;

namespace DiffTransformer.Cli.Common;

/// <summary>The output streams of an invocation (the console, or whatever <see cref="Cli.Run"/> was given).</summary>
public static class ParseResultExtensions
{
    public static TextWriter Stdout(this ParseResult parse) => parse.InvocationConfiguration.Output;

    public static TextWriter Stderr(this ParseResult parse) => parse.InvocationConfiguration.Error;

    /// <summary>Whether <paramref name="writer"/> is the process's stderr on a terminal (so a line may be redrawn in place).</summary>
    public static bool IsTerminalStderr(TextWriter writer) => ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>Whether the option was given on the command line (not just defaulted).</summary>
    public static bool Given(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
}
