using System.Text;
using DiffTransformer.Data;

namespace DiffTransformer.Inference;

/// <summary>
/// Turns generated token ids into text that is safe to show as it comes:
/// <list type="bullet">
/// <item>a token that ends inside a multi-byte UTF-8 character (the byte tokenizer emits one byte per token, BPE
/// tokens can split a character too) is held until the character is complete, so no partial character and no
/// spurious U+FFFD is ever emitted mid-stream (after 4 tokens that still do not decode, the replacement
/// characters are emitted: the bytes are invalid, not incomplete);</item>
/// <item>text that could be the beginning of a stop string is held until it is known not to be one, and a stop
/// string found anywhere in the generated text, even across token boundaries, ends the text before it.</item>
/// </list>
/// </summary>
public sealed class TextAssembler
{
    /// <summary>A UTF-8 character is at most 4 bytes, hence at most 4 tokens.</summary>
    private const int MaxPendingTokens = 4;

    private readonly ITokenizer tokenizer;
    private readonly string[] stops;
    private readonly List<int> pending = [];
    private readonly StringBuilder held = new();
    private readonly StringBuilder emitted = new();

    public TextAssembler(ITokenizer tokenizer, IReadOnlyList<string>? stopStrings = null)
    {
        this.tokenizer = tokenizer;
        stops = [.. stopStrings ?? []];
        foreach (var s in stops)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("stop strings must not be empty");
    }

    /// <summary>All text emitted so far.</summary>
    public string Text => emitted.ToString();

    /// <summary>The stop string that ended the text, once one has.</summary>
    public string? MatchedStop { get; private set; }

    /// <summary>
    /// Adds one generated token; returns the text that can be shown now (often empty while a character or a possible
    /// stop string is incomplete). After a stop string matched, returns the text before it and ignores later tokens.
    /// </summary>
    public string Push(int token)
    {
        if (MatchedStop is not null) return "";
        pending.Add(token);
        string piece = tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending));
        if (piece.EndsWith('\uFFFD') && pending.Count < MaxPendingTokens) return "";   // wait for the rest of the character
        pending.Clear();
        held.Append(piece);
        return Release(final: false);
    }

    /// <summary>Ends the text: returns whatever was held (an unfinished character decodes to U+FFFD).</summary>
    public string Flush()
    {
        if (MatchedStop is not null) return "";
        if (pending.Count > 0)
        {
            held.Append(tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending)));
            pending.Clear();
        }
        return Release(final: true);
    }

    private string Release(bool final)
    {
        string h = held.ToString();
        int cut = -1;
        string? which = null;
        foreach (var s in stops)
        {
            int at = h.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) { cut = at; which = s; }
        }
        string release;
        if (which is not null)
        {
            MatchedStop = which;
            release = h[..cut];
            held.Clear();
        }
        else
        {
            int keep = final ? 0 : LongestStopPrefixSuffix(h);
            release = h[..^keep];
            held.Clear().Append(h, h.Length - keep, keep);
        }
        emitted.Append(release);
        return release;
    }

    /// <summary>Length of the longest suffix of <paramref name="h"/> that is a proper prefix of a stop string.</summary>
    private int LongestStopPrefixSuffix(string h)
    {
        int best = 0;
        foreach (var s in stops)
            for (int len = Math.Min(s.Length - 1, h.Length); len > best; len--)
                if (h.AsSpan(h.Length - len).SequenceEqual(s.AsSpan(0, len))) { best = len; break; }
        return best;
    }
}
