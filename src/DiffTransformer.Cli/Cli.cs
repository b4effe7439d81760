using System.CommandLine;
using DiffTransformer.Cli.Commands;
using DiffTransformer.Cli.Common;

namespace DiffTransformer.Cli;

/// <summary>The <c>difft</c> command tree, runnable with any output streams (the console in <see cref="Program"/>, strings in tests).</summary>
public static class Cli
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("difft — build, train, run and study Differential Transformer models (Ye et al., 2024) on TorchSharp.")
        {
            InfoCommand.Create(),
            ImportCommand.Create(),
            ExportCommand.Create(),
            QuantizeCommand.Create(),
            PrepareCommand.Create(),
            GenerateCommand.Create(),
            ServeCommand.Create(),
            BenchCommand.Create(),
            TrainCommand.Create(),
            CompareCommand.Create(),
            EvalCommand.Create(),
            StudyCommand.Create(),
        };
        Versions.PrintOnVersionOption(root);
        return root;
    }

    /// <summary>Parses <paramref name="args"/> and runs the verb they name; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        CreateRoot().Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
}
