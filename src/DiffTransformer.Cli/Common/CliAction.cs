using System.CommandLine;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>Runs a verb's body and turns the library's expected failures into one clear line on stderr.</summary>
public static class CliAction
{
    public const int Ok = 0;
    public const int Failed = 1;

    public static void Set(Command command, Func<ParseResult, int> body) =>
        command.SetAction(parse => Run(() => body(parse)));

    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ConfigException or SafeTensorsException or FileNotFoundException or DirectoryNotFoundException
                                      or InvalidDataException or ArgumentException or UsageException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Failed;
        }
    }
}
