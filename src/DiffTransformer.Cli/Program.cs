using System.CommandLine;
using DiffTransformer.Cli.Commands;

namespace DiffTransformer.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("difft — build, train, run and study Differential Transformer models (Ye et al., 2024) on TorchSharp.")
        {
            InfoCommand.Create(),
            PrepareCommand.Create(),
            GenerateCommand.Create(),
            ServeCommand.Create(),
            BenchCommand.Create(),
            TrainCommand.Create(),
            CompareCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
