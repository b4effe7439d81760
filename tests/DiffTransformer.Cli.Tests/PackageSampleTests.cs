using System.Xml.Linq;

namespace DiffTransformer.Cli.Tests;

/// <summary>
/// samples/QuickStart, the app on the DiffTransformer package alone that .ci/packages builds and runs against freshly
/// packed packages (README's commands under "Use it in your app" and "Install the command-line tool" run there as
/// written): its code is README's, it asks for the version the repository packs, and nothing of the repository's
/// build reaches it.
/// </summary>
public sealed class PackageSampleTests
{
    private static readonly string Root = ReadmeEvaluationTests.RepoRoot();
    private static readonly string Sample = Path.Combine(Root, "samples", "QuickStart");

    /// <summary>The first code block under <paramref name="heading"/> that opens with <paramref name="fence"/>, without its fences.</summary>
    private static string Block(string readme, string heading, string fence)
    {
        int h = readme.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(h >= 0, $"README has no '{heading}'");
        int start = readme.IndexOf("\n" + fence + "\n", h, StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no {fence} block under '{heading}'");
        start += fence.Length + 2;
        return readme[start..readme.IndexOf("\n```", start, StringComparison.Ordinal)];
    }

    [Fact]
    public void TheSampleIsReadmesCode()
    {
        string readmeCode = Block(File.ReadAllText(Path.Combine(Root, "README.md")), "## Use it in your app", "```csharp");
        var program = File.ReadAllLines(Path.Combine(Sample, "Program.cs"));
        string code = string.Join("\n", program.SkipWhile(l => l.StartsWith("//", StringComparison.Ordinal)).SkipWhile(l => l.Length == 0));
        Assert.Equal(readmeCode.TrimEnd('\n'), code.TrimEnd('\n'));
    }

    [Fact]
    public void TheSampleReferencesThePackageAtTheRepositorysVersion()
    {
        string prefix = XDocument.Load(Path.Combine(Root, "Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
        var project = XDocument.Load(Path.Combine(Sample, "QuickStart.csproj"));
        var reference = project.Descendants("PackageReference").Single();
        Assert.Equal("DiffTransformer", (string?)reference.Attribute("Include"));
        Assert.Equal(prefix, (string?)reference.Attribute("Version"));
        Assert.Empty(project.Descendants("ProjectReference"));
    }

    [Fact]
    public void NothingOfTheRepositorysBuildReachesTheSample()
    {
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            Assert.True(!XDocument.Load(Path.Combine(Root, "samples", name)).Root!.HasElements, $"samples/{name} must be empty");
        Assert.DoesNotContain("samples", File.ReadAllText(Path.Combine(Root, "DiffTransformer.slnx")), StringComparison.Ordinal);
    }
}
