namespace DiffTransformer.Data;

/// <summary>
/// GPT-2's byte-level alphabet, which Hugging Face's ByteLevel pre-tokenizer and decoder use: every byte becomes one
/// printable character — the 188 bytes that already print as themselves ('!'…'~', '¡'…'¬', '®'…'ÿ') keep their code
/// point, the other 68 (controls, space, 0x7F–0xA0, 0xAD) take U+0100, U+0101, … in byte order. A BPE vocabulary of
/// a tokenizer.json is written in these characters (a token starting with a space starts with 'Ġ' = U+0120).
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] CharOf = Build();
    private static readonly Dictionary<char, byte> ByteOf = Enumerable.Range(0, 256).ToDictionary(b => CharOf[b], b => (byte)b);

    private static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool prints = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = prints ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The characters of <paramref name="bytes"/>, one per byte.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOf[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes <paramref name="text"/> stands for; null when a character is outside the alphabet.</summary>
    public static byte[]? Decode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!ByteOf.TryGetValue(text[i], out byte b)) return null;
            bytes[i] = b;
        }
        return bytes;
    }
}
