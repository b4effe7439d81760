using DiffTransformer.Tasks.Recall;

namespace DiffTransformer.Tests.Tasks;

/// <summary>The recall task's options and generator: determinism, the length budget, spans, keys, near misses.</summary>
public sealed class RecallTaskTests
{
    private static readonly RecallTaskOptions Defaults = new();

    /// <summary>A harder setting than the default, with every feature in play (long keys, several near misses, a filler alphabet of its own).</summary>
    private static readonly RecallTaskOptions Hard = new()
    {
        Pairs = 20, Queries = 5, KeyLength = 3, ValueLength = 3, KeyAlphabet = "abcd", ValueAlphabet = "0123",
        NearMisses = 2, FillerWords = 10, FillerMaxLength = 4, FillerAlphabet = "abcdxyz", ContextLength = 256,
    };

    public static TheoryData<string> OptionSets => ["default", "hard", "tight", "mixed"];

    private static RecallTaskOptions Options(string name) => name switch
    {
        "default" => Defaults,
        "hard" => Hard,
        "mixed" => Hard with { MinPairs = 1 },
        // The key space exactly the number of pairs, and every near-miss slot wanted: exercises the fallbacks.
        _ => new RecallTaskOptions { Pairs = 9, Queries = 3, KeyLength = 2, KeyAlphabet = "abc", NearMisses = 2, FillerWords = 0 },
    };

    [Fact]
    public void SameSeedSameDocumentsDifferentSeedOrStreamDifferent()
    {
        var a = new RecallTaskGenerator(Defaults, 42);
        var b = new RecallTaskGenerator(Defaults, 42);
        var c = new RecallTaskGenerator(Defaults, 43);
        for (int i = 0; i < 50; i++)
        {
            var x = a.Generate(i);
            var y = b.Generate(i);
            Assert.Equal(x.Text, y.Text);
            Assert.Equal(x.Pairs, y.Pairs);
            Assert.Equal(x.Queries, y.Queries);
        }
        Assert.All(Enumerable.Range(0, 50), i => Assert.NotEqual(a.Generate(i).Text, c.Generate(i).Text));
        Assert.All(Enumerable.Range(0, 50), i => Assert.NotEqual(a.Generate(i).Text, a.Generate(i, RecallStream.Heldout).Text));
        Assert.Equal(50, Enumerable.Range(0, 50).Select(i => a.Generate(i).Text).Distinct().Count());
    }

    [Fact]
    public void DocumentDependsOnlyOnItsIndex()
    {
        var g = new RecallTaskGenerator(Defaults, 5);
        var serial = Enumerable.Range(0, 200).Select(i => g.Generate(i).Text).ToArray();
        var parallel = new string[200];
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[199 - i] = g.Generate(199 - i).Text);
        Assert.Equal(serial, parallel);
        Assert.Equal(serial[150..160], g.Generate(150, 10, RecallStream.Train).Select(e => e.Text));
    }

    [Fact]
    public void GeneratorOutputIsPinned()
    {
        // Datasets record generator_version 1: a change to the draws must bump it, and this test says so.
        var options = new RecallTaskOptions
        {
            Pairs = 12, Queries = 4, KeyLength = 2, ValueLength = 2, KeyAlphabet = "abcdefgh", ValueAlphabet = "0123456789",
            NearMisses = 1, NearMissValues = true, FillerWords = 6, FillerMaxLength = 3, ContextLength = 256,
        };
        var e = new RecallTaskGenerator(options, 1).Generate(0);
        Assert.Equal("hf=62 dd=47 de=52 eh=65 d h dc=55 ec b cc=05 gh=43 ee=95 ah=94 dca cf=61 bc=64 dg=49 g | ee?95 dc?55 hf?62 dd?47", e.Text);
    }

    [Theory]
    [MemberData(nameof(OptionSets))]
    public void DocumentsFitTheBudgetAndAreAscii(string set)
    {
        var o = Options(set);
        var g = new RecallTaskGenerator(o, 9);
        int longest = 0;
        for (int i = 0; i < 500; i++)
        {
            var e = g.Generate(i);
            longest = Math.Max(longest, e.Text.Length);
            Assert.True(e.Text.Length + 1 <= o.ContextLength, $"document {i} has {e.Text.Length} characters");
            Assert.True(e.Text.Length <= o.MaxDocumentLength);
            Assert.All(e.Text, c => Assert.InRange(c, ' ', '~'));
        }
        if (set == "tight") Assert.Equal(o.MaxDocumentLength, longest);   // without filler every document has the longest length
    }

    [Theory]
    [MemberData(nameof(OptionSets))]
    public void AnswersAreTheValuesOfTheQueriedKeys(string set)
    {
        var o = Options(set);
        var g = new RecallTaskGenerator(o, 3);
        for (int i = 0; i < 300; i++)
        {
            var e = g.Generate(i, RecallStream.Heldout);
            e.CheckConsistency();
            Assert.InRange(e.Pairs.Count, o.MinPairs ?? o.Pairs, o.Pairs);
            Assert.Equal(Math.Min(o.Queries, e.Pairs.Count), e.Queries.Count);
            Assert.Equal(e.Pairs.Count, e.Pairs.Select(p => p.Key).Distinct().Count());   // keys unique within a document
            Assert.Equal(e.Queries.Count, e.Queries.Select(q => q.PairIndex).Distinct().Count());   // each query a different key
            for (int q = 0; q < e.Queries.Count; q++)
            {
                var query = e.Queries[q];
                string key = e.Text.Substring(query.KeySpan.Start, query.KeySpan.Length);
                string answer = e.Text.Substring(query.AnswerSpan.Start, query.AnswerSpan.Length);
                Assert.Equal('?', e.Text[query.AnswerSpan.Start - 1]);
                Assert.True(query.KeySpan.Start > e.Context.End);
                // Find the pair in the raw context text, independently of the recorded spans.
                string context = e.Text[..e.Context.End];
                int at = (" " + context + " ").IndexOf(" " + key + "=", StringComparison.Ordinal);
                Assert.True(at >= 0, $"key {key} not in the context of {e.Text}");
                Assert.Equal(answer, context.Substring(at + key.Length + 1, o.ValueLength));
                Assert.Equal(at, e.QueriedPair(q).KeySpan.Start);
                Assert.InRange(e.Depth(q), 0.0, 1.0);
            }
            Assert.All(e.Pairs.Zip(e.Pairs.Skip(1)), p => Assert.True(p.First.Span.End < p.Second.Span.Start));   // text order
        }
    }

    [Fact]
    public void MinPairsMixesDocumentSizes()
    {
        var o = Defaults with { MinPairs = 1 };
        var g = new RecallTaskGenerator(o, 4);
        var docs = g.Generate(0, 1000, RecallStream.Train);
        var counts = docs.Select(e => e.Pairs.Count).ToList();
        Assert.Equal(Enumerable.Range(1, o.Pairs), counts.Distinct().Order());   // every size from 1 to pairs occurs
        Assert.InRange(counts.Average(), 6.0, 7.0);   // uniform: mean 6.5
        // A one-pair document asks its only key; its near misses had no room.
        var single = docs.First(e => e.Pairs.Count == 1);
        Assert.Equal(0, Assert.Single(single.Queries).PairIndex);
        // With room for only some near misses, each query gets one before any gets a second.
        var spread = new RecallTaskGenerator(o with { NearMisses = 2 }, 4);
        var eight = spread.Generate(0, 500, RecallStream.Train).Where(e => e.Pairs.Count == 8).ToList();
        Assert.NotEmpty(eight);
        Assert.All(eight, e => Assert.All(Enumerable.Range(0, 4), q => Assert.NotEmpty(e.NearMisses(q))));
    }

    [Fact]
    public void NearMissesShareAllButOneCharacterWithTheQueriedPair()
    {
        var g = new RecallTaskGenerator(Hard, 11);
        int constructed = 0;
        for (int i = 0; i < 200; i++)
        {
            var e = g.Generate(i);
            for (int q = 0; q < e.Queries.Count; q++)
            {
                var target = e.QueriedPair(q);
                var near = e.NearMisses(q).Select(p => e.Pairs[p]).ToList();
                Assert.All(near, p => Assert.Equal(1, RecallExample.HammingDistance(p.Key, target.Key)));
                // The generator places near_misses look-alikes per query whose value differs from the answer in one place.
                constructed += Math.Min(Hard.NearMisses, near.Count(p => RecallExample.HammingDistance(p.Value, target.Value) == 1));
            }
        }
        Assert.True(constructed >= 200 * Hard.Queries * Hard.NearMisses * 9 / 10, $"only {constructed} near misses with near-miss values");
    }

    [Theory]
    [MemberData(nameof(OptionSets))]
    public void ParseRecoversTheGeneratedExample(string set)
    {
        var g = new RecallTaskGenerator(Options(set), 21);
        for (int i = 0; i < 100; i++)
        {
            var e = g.Generate(i);
            var p = RecallExample.Parse(e.Text);
            Assert.Equal(e.Context, p.Context);
            Assert.Equal(e.Pairs, p.Pairs);
            Assert.Equal(e.Queries, p.Queries);
        }
    }

    [Theory]
    [InlineData("ab=12 cd=34", "no \" | \"")]
    [InlineData("ab=12 | zz?12", "query key \"zz\" at offset 8 is not in the context")]
    [InlineData("ab=12 ab=13 | ab?12", "key \"ab\" at offset 6 occurs twice")]
    [InlineData("ab=12  cd=34 | ab?12", "empty word at offset 6")]
    [InlineData("ab=12 | ab12", "malformed query \"ab12\" at offset 8")]
    [InlineData("ab=12 | ", "empty word at offset 8")]
    [InlineData("ab x | ab?12", "no key=value pair")]
    public void ParseNamesWhatIsWrong(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => RecallExample.Parse(text));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(nameof(RecallTaskOptions.Pairs), "pairs must be at least 1, got 0")]
    [InlineData(nameof(RecallTaskOptions.Queries), "queries (13) must not exceed pairs (12)")]
    [InlineData(nameof(RecallTaskOptions.KeyAlphabet), "key_alphabet \"ab=\" contains '=', which the format reserves")]
    [InlineData(nameof(RecallTaskOptions.ValueAlphabet), "value_alphabet \"0 1\" contains ' '")]
    [InlineData(nameof(RecallTaskOptions.FillerAlphabet), "filler_alphabet \"aé\" contains U+00E9: only printable ASCII")]
    [InlineData("repeat", "key_alphabet \"abca\" repeats 'a'")]
    [InlineData("MinPairs", "min_pairs must be between 1 and pairs (12), got 13")]
    [InlineData("keyspace", "only 4 distinct keys of key_length 2 can be made from the 2 characters of key_alphabet \"ab\", fewer than pairs = 12")]
    [InlineData(nameof(RecallTaskOptions.NearMisses), "queries × (1 + near_misses) = 4 × 4 = 16 pairs are needed")]
    [InlineData("neighbours", "near_misses = 3 exceeds the 2 keys that differ from a key in one character")]
    [InlineData(nameof(RecallTaskOptions.ContextLength), "documents do not fit context_length 100: the longest takes 121 characters + 1 end-of-text = 122 tokens, 22 too many")]
    public void InvalidOptionsAreNamed(string what, string expected)
    {
        var o = what switch
        {
            nameof(RecallTaskOptions.Pairs) => Defaults with { Pairs = 0 },
            nameof(RecallTaskOptions.Queries) => Defaults with { Queries = 13 },
            nameof(RecallTaskOptions.KeyAlphabet) => Defaults with { KeyAlphabet = "ab=" },
            nameof(RecallTaskOptions.ValueAlphabet) => Defaults with { ValueAlphabet = "0 1" },
            nameof(RecallTaskOptions.FillerAlphabet) => Defaults with { FillerAlphabet = "aé" },
            "repeat" => Defaults with { KeyAlphabet = "abca" },
            "MinPairs" => Defaults with { MinPairs = 13 },
            "keyspace" => Defaults with { KeyAlphabet = "ab" },
            nameof(RecallTaskOptions.NearMisses) => Defaults with { NearMisses = 3 },
            "neighbours" => Defaults with { KeyLength = 1, KeyAlphabet = "abc", Pairs = 3, Queries = 1, NearMisses = 3 },
            _ => Defaults with { ContextLength = 100 },
        };
        var e = Assert.Throws<ArgumentException>(() => new RecallTaskGenerator(o, 0));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void DefaultsAreValidAndLeaveHalfTheContext()
    {
        Defaults.Validate();
        // Under half the context: a training window placed anywhere holds at least one whole document.
        Assert.True(2 * (Defaults.MaxDocumentLength + 1) <= Defaults.ContextLength, $"longest document {Defaults.MaxDocumentLength}");
    }
}
