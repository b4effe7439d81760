using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using TorchSharp;

namespace DiffTransformer.Cli.Common;

/// <summary>
/// What <c>difft --version</c> prints: difft's own version (the packages' VersionPrefix in Directory.Build.props, with
/// the commit it was built from), then the TorchSharp and the libtorch it runs on.
/// </summary>
public static class Versions
{
    public static string Describe()
    {
        string difft = InformationalVersion(typeof(Versions).Assembly);
        int plus = difft.IndexOf('+');
        string own = plus < 0 ? difft : $"{difft[..plus]} (commit {difft[(plus + 1)..]})";
        return $"difft {own}\n" +
               $"TorchSharp {InformationalVersion(typeof(torch).Assembly)}\n" +
               $"libtorch {torch.NormalizeNuGetVersion(torch.__version__)}";
    }

    /// <summary>Makes the root command's <c>--version</c> print <see cref="Describe"/> instead of difft's version alone.</summary>
    public static void PrintOnVersionOption(RootCommand root) => root.Options.OfType<VersionOption>().Single().Action = new PrintAction();

    private static string InformationalVersion(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString(3)
        ?? throw new InvalidOperationException($"{assembly.GetName().Name} carries no version");

    private sealed class PrintAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.Stdout().WriteLine(Describe());
            return CliAction.Ok;
        }
    }
}
