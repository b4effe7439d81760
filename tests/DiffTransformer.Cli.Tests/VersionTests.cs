using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace DiffTransformer.Cli.Tests;

/// <summary><c>difft --version</c>: difft's version as Directory.Build.props sets it, and TorchSharp's as Directory.Packages.props pins it.</summary>
public sealed class VersionTests
{
    private static string RepoFile(string name) => Path.Combine(ReadmeEvaluationTests.RepoRoot(), name);

    [Fact]
    public void VersionNamesDifftTorchSharpAndLibtorch()
    {
        string prefix = XDocument.Load(RepoFile("Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
        string torchSharp = XDocument.Load(RepoFile("Directory.Packages.props")).Descendants("PackageVersion")
            .Single(p => (string?)p.Attribute("Include") == "TorchSharp-cpu").Attribute("Version")!.Value;

        var run = CliRun.Of("--version");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stderr);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches($@"^difft {Regex.Escape(prefix)}( \(commit [0-9a-f]+\))?$", lines[0]);
        Assert.Equal($"TorchSharp {torchSharp}", lines[1]);
        Assert.Matches(@"^libtorch \d+\.\d+\.\d+$", lines[2]);
    }
}
