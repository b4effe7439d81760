using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

public sealed class TokenizerTests
{
    [Theory]
    [InlineData("byte", 257, 256)]
    [InlineData("gpt2", 50257, 50256)]
    [InlineData("cl100k_base", 100277, 100257)]
    public void KnownTokenizersHaveTheirVocabAndEot(string name, int vocab, int eot)
    {
        var t = Tokenizers.Create(name);
        Assert.Equal(name, t.Name);
        Assert.Equal(vocab, t.VocabSize);
        Assert.Equal(eot, t.EndOfText);
        Assert.Same(t, Tokenizers.Create(name));
    }

    [Theory]
    [InlineData("byte")]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    public void EncodeDecodeRoundTripsAndSpellsOutSpecialStrings(string name)
    {
        var t = Tokenizers.Create(name);
        foreach (var text in Corpus.Special.Concat(Corpus.Random(20, 7)).Append("<|fim_prefix|><|endofprompt|>"))
        {
            var ids = t.Encode(text);
            Assert.DoesNotContain(t.EndOfText, ids);
            Assert.All(ids, id => Assert.InRange(id, 0, t.VocabSize - 1));
            Assert.Equal(text, t.Decode(ids));
        }
    }

    [Fact]
    public void EndOfTextIdDecodesToItsName()
    {
        var t = Tokenizers.Create("gpt2");
        var ids = t.Encode("a").Append(t.EndOfText).Concat(t.Encode("b")).ToArray();
        Assert.Equal("a<|endoftext|>b", t.Decode(ids));
        var b = Tokenizers.Create("byte");
        Assert.Equal("a<|endoftext|>b", b.Decode([97, 256, 98]));
    }

    [Fact]
    public void ByteTokenizerIsUtf8()
    {
        var t = Tokenizers.Create("byte");
        Assert.Equal(new[] { 0x68, 0xC3, 0xA9 }, t.Encode("hé"));
        Assert.Equal("\uFFFD", t.Decode([0xC3]));   // a cut multi-byte character becomes U+FFFD
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([257]));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    public void OwnPreTokenizerMatchesTheLibraryOnOrdinaryText(string name)
    {
        // Text with a special-token string goes through our copy of tiktoken's regex; on all other text the library
        // pre-tokenizes. The two must agree, or the same words would be tokenized differently in different documents.
        var t = (TiktokenTextTokenizer)Tokenizers.Create(name);
        var texts = Corpus.Random(300, 11).Concat(Corpus.Special.Where(s => !s.Contains("<|", StringComparison.Ordinal)))
            .Append("   spaces  \n\n\n  newlines\r\n\r\n  ").Append("'S 'LL 'Ve mixed CASE's").Append("1234567 a1b2 ٣٤٥ ①②");
        foreach (var text in texts) Assert.Equal(t.Encode(text), t.EncodeOrdinary(text));
    }

    [Fact]
    public void Gpt2EncodesTheSpecialStringAsTiktokenEncodeOrdinaryDoes()
    {
        // tiktoken: enc.encode_ordinary("<|endoftext|>") == [27, 91, 437, 1659, 5239, 91, 29]
        Assert.Equal(new[] { 27, 91, 437, 1659, 5239, 91, 29 }, Tokenizers.Create("gpt2").Encode("<|endoftext|>"));
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Tokenizers.Create("llama"));
        Assert.Equal("unknown tokenizer 'llama'; known: byte, gpt2, cl100k_base", e.Message);
    }
}
