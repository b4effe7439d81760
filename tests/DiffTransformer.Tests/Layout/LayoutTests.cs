using System.Text.RegularExpressions;
using DiffTransformer.Model;
using DiffTransformer.Training;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Layout;

/// <summary>
/// The tree's rules (docs/ARCHITECTURE.md): floors with no arrow running up, checked on the compiled library (every
/// type, field, signature and IL token) and on the using directives of its source; namespace = folder; one public type
/// per file.
/// </summary>
public sealed partial class LayoutTests(ITestOutputHelper log)
{
    private static readonly System.Reflection.Assembly Library = typeof(LanguageModel).Assembly;

    [Fact]
    public void NoLibraryTypeUsesAHigherFloor()
    {
        var violations = Floors.Violations(Library, Floors.Library);
        foreach (var v in violations) log.WriteLine(v);
        Assert.True(violations.Count == 0, $"{violations.Count} uses of a higher floor:\n{string.Join("\n", violations)}");
    }

    [Fact]
    public void TheCheckSeesRealDependenciesAndNamesAViolation()
    {
        var refs = Floors.References(typeof(Trainer)).Select(t => Floors.FolderOf(t.Namespace)).ToHashSet();
        Assert.Contains("Model", refs);
        Assert.Contains("Data", refs);
        Assert.Contains("Tasks", refs);
        Assert.Contains("IO", refs);

        // The same library under floors where Training sits at the bottom: every upward use is named.
        var inverted = new Dictionary<string, int>(Floors.Library) { ["Training"] = 0 };
        var violations = Floors.Violations(Library, inverted);
        Assert.Contains(violations, v => v.StartsWith("DiffTransformer.Training.Trainer (Training, floor 0) uses DiffTransformer.Model.", StringComparison.Ordinal));
        Assert.DoesNotContain(violations, v => v.StartsWith("DiffTransformer.Model.", StringComparison.Ordinal));
    }

    [Fact]
    public void UsingDirectivesRespectTheFloors()
    {
        var bad = new List<string>();
        foreach (var (file, folder) in LibrarySources())
            foreach (Match m in UsingDirective().Matches(File.ReadAllText(file)))
            {
                string to = m.Groups["folder"].Value;
                if (!Floors.MayUse(folder, to, Floors.Library)) bad.Add($"{Relative(file)}: {m.Value.Trim()} ({folder} may not use {to})");
            }
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void NamespacesMatchFolders()
    {
        var bad = new List<string>();
        foreach (var (dir, rootNamespace) in new[]
                 {
                     ("src/DiffTransformer", "DiffTransformer"), ("src/DiffTransformer.Cli", "DiffTransformer.Cli"),
                     ("tests/DiffTransformer.Tests", "DiffTransformer.Tests"),
                 })
            foreach (var file in Sources(dir))
            {
                string rel = Path.GetRelativePath(Path.Combine(RepoRoot, dir), Path.GetDirectoryName(file)!);
                string expected = rel == "." ? rootNamespace : rootNamespace + "." + rel.Replace(Path.DirectorySeparatorChar, '.');
                var ns = NamespaceLine().Match(File.ReadAllText(file));
                if (!ns.Success) bad.Add($"{Relative(file)}: no file-scoped namespace");
                else if (ns.Groups[1].Value != expected) bad.Add($"{Relative(file)}: namespace {ns.Groups[1].Value}, folder says {expected}");
            }
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void EachFileHoldsAtMostOnePublicType()
    {
        var bad = new List<string>();
        foreach (var dir in new[] { "src/DiffTransformer", "src/DiffTransformer.Cli" })
            foreach (var file in Sources(dir))
            {
                var types = PublicTopLevelType().Matches(File.ReadAllText(file)).Select(m => m.Groups["name"].Value).ToList();
                if (types.Count > 1) bad.Add($"{Relative(file)}: {string.Join(", ", types)}");
            }
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    private static IEnumerable<(string File, string Folder)> LibrarySources()
    {
        string root = Path.Combine(RepoRoot, "src", "DiffTransformer");
        foreach (var file in Sources("src/DiffTransformer"))
        {
            string rel = Path.GetRelativePath(root, file);
            int sep = rel.IndexOf(Path.DirectorySeparatorChar);
            yield return (file, sep < 0 ? "" : rel[..sep]);
        }
    }

    private static IEnumerable<string> Sources(string dir) =>
        Directory.EnumerateFiles(Path.Combine(RepoRoot, dir), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    private static string Relative(string file) => Path.GetRelativePath(RepoRoot, file);

    private static readonly string RepoRoot = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DiffTransformer.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException($"no DiffTransformer.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^using (?:static )?DiffTransformer\.(?<folder>[A-Za-z]+)[.;]", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    [GeneratedRegex(@"^public (?:(?:sealed|static|abstract|readonly|partial|ref|record) )*(?:class|record|struct|enum|interface) (?<name>\w+)", RegexOptions.Multiline)]
    private static partial Regex PublicTopLevelType();
}
