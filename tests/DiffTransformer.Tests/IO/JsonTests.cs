using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Training;

namespace DiffTransformer.Tests.IO;

/// <summary>The project's one set of JSON options (IO/Json): names, enums, escaping, lines, and what reading refuses.</summary>
public sealed class JsonTests
{
    private sealed record Sample
    {
        public string? SomeText { get; init; }
        public DecayShape Shape { get; init; }
        public Architecture Arch { get; init; }
        public double? Missing { get; init; }
    }

    [Fact]
    public void WritesSnakeCaseNamesAndEnumValuesIndented()
    {
        var json = Json.Serialize(new Sample { SomeText = "a", Shape = DecayShape.Constant, Arch = Architecture.Transformer });
        Assert.Equal("{\n  \"some_text\": \"a\",\n  \"shape\": \"constant\",\n  \"arch\": \"transformer\",\n  \"missing\": null\n}", json.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void OptionsKeepTextReadableEscapedKeepsTheOldRunJsonForm()
    {
        var s = new Sample { SomeText = "ü+&'<x>→" };
        Assert.Contains("\"some_text\": \"ü+&'<x>→\"", Json.Serialize(s));
        Assert.Contains("\"some_text\": \"\\u00FC\\u002B\\u0026\\u0027\\u003Cx\\u003E\\u2192\"", Json.Serialize(s, Json.Escaped));
        Assert.Equal(s, Json.Parse<Sample>(Json.Serialize(s, Json.Escaped), "x"));     // reading does not depend on it
    }

    [Fact]
    public void LinesAreCompactAndLeaveNullsOut()
    {
        Assert.Equal("{\"some_text\":\"a\",\"shape\":\"cosine\",\"arch\":\"diff\"}", Json.Serialize(new Sample { SomeText = "a" }, Json.Lines));
    }

    [Fact]
    public void ReadingAllowsCommentsAndTrailingCommasAndRefusesUnknownMembersNamingTheSource()
    {
        var s = Json.Parse<Sample>("{ // a comment\n \"shape\": \"linear\", \"arch\": \"transformer\", }", "a.json")!;
        Assert.Equal(DecayShape.Linear, s.Shape);
        Assert.Equal(Architecture.Transformer, s.Arch);
        var e = Assert.Throws<InvalidDataException>(() => Json.Parse<Sample>("{\"shape\": \"linear\", \"colour\": 1}", "b.json"));
        Assert.StartsWith("b.json: ", e.Message);
        Assert.Contains("'colour'", e.Message);
        Assert.Contains("b.json: ", Assert.Throws<InvalidDataException>(() => Json.Parse<Sample>("{\"shape\": ", "b.json")).Message);
        Assert.Null(Json.Parse<Sample>("null", "c.json"));
    }

    [Fact]
    public void ReadNamesTheFileAndRefusesNull()
    {
        string path = Path.Combine(Path.GetTempPath(), $"difft-json-{Guid.NewGuid():N}.json");
        try
        {
            Json.Write(path, new Sample { SomeText = "x" });
            Assert.EndsWith("}\n", File.ReadAllText(path));
            Assert.Equal("x", Json.Read<Sample>(path).SomeText);
            File.WriteAllText(path, "null");
            Assert.Equal($"{path}: empty", Assert.Throws<InvalidDataException>(() => Json.Read<Sample>(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
