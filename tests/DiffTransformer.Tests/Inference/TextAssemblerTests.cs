using System.Text;
using DiffTransformer.Data;
using DiffTransformer.Inference;

namespace DiffTransformer.Tests.Inference;

public sealed class TextAssemblerTests
{
    private static readonly ITokenizer Bytes = Tokenizers.Create("byte");

    private static List<string> PushAll(TextAssembler a, string text)
    {
        var chunks = new List<string>();
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            chunks.Add(a.Push(b));
            if (a.MatchedStop is not null) break;
        }
        chunks.Add(a.Flush());
        return chunks;
    }

    [Fact]
    public void MultiByteCharactersAreNeverSplitMidStream()
    {
        const string text = "h€llo wörld 😀 ok";           // 3-byte, 2-byte and 4-byte characters, one byte per token
        var a = new TextAssembler(Bytes);
        var chunks = PushAll(a, text);
        Assert.Equal(text, string.Concat(chunks));
        Assert.Equal(text, a.Text);
        Assert.DoesNotContain(chunks, c => c.Contains('\uFFFD'));
        Assert.Contains("😀", chunks);                          // arrives whole, as one chunk, when its 4th byte does
        Assert.Equal(2 + 1 + 3 + 1, chunks.Count(c => c.Length == 0)); // held continuation bytes of €, ö, 😀, and the empty flush
    }

    [Fact]
    public void InvalidBytesBecomeReplacementCharactersWithoutStallingTheStream()
    {
        var a = new TextAssembler(Bytes);
        Assert.Equal("", a.Push(0xE2));                          // could be the start of "€": held
        Assert.Equal("\uFFFDA", a.Push('A'));                     // it was not: released at once with the next character
        Assert.Equal("", a.Push(0xF0));
        Assert.Equal("\uFFFD", a.Flush());                       // the end: an unfinished character is shown as U+FFFD
    }

    [Fact]
    public void StopStringsAcrossTokenBoundariesEndTheTextBeforeThem()
    {
        var a = new TextAssembler(Bytes, ["END", "\n\n"]);
        var chunks = PushAll(a, "hello ENtry, then END and more");
        Assert.Equal("hello ENtry, then ", a.Text);
        Assert.Equal("END", a.MatchedStop);
        Assert.Equal(a.Text, string.Concat(chunks));
        Assert.DoesNotContain(chunks, c => c.Contains("EN", StringComparison.Ordinal) && c.Contains("END", StringComparison.Ordinal));
        Assert.Equal("", a.Push('x'));                           // nothing after a stop
    }

    [Fact]
    public void APossibleStopPrefixIsHeldUntilDecided()
    {
        var a = new TextAssembler(Bytes, ["<stop>"]);
        Assert.Equal("a", a.Push('a'));
        Assert.Equal("", a.Push('<'));
        Assert.Equal("", a.Push('s'));
        Assert.Equal("<sx", a.Push('x'));                        // not a stop after all: released together
        Assert.Equal("", a.Push('<'));
        Assert.Equal("<", a.Flush());                            // the end releases a held prefix
        Assert.Null(a.MatchedStop);
    }

    [Fact]
    public void EmptyStopStringsAreRefused() =>
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new TextAssembler(Bytes, [""])).Message);

    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    public void BpeTokensThatSplitACharacterAreHeldToo(string name)
    {
        var tok = Tokenizers.Create(name);
        const string text = "naïve café → 😀🎉 日本語 done";
        var ids = tok.Encode(text);
        var a = new TextAssembler(tok);
        var chunks = ids.Select(a.Push).Append(a.Flush()).ToList();
        Assert.Equal(text, string.Concat(chunks));
        Assert.DoesNotContain(chunks, c => c.Contains('\uFFFD'));
    }
}
