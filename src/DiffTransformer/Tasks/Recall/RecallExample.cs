namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// One generated document: its text, the pairs of its context in text order and its queries in text order.
/// All spans are character offsets into <see cref="Text"/>, which is ASCII, so they are byte-token offsets too.
/// </summary>
public sealed record RecallExample(string Text, IndexSpan Context, IReadOnlyList<RecallPair> Pairs, IReadOnlyList<RecallQuery> Queries)
{
    /// <summary>The answer text of query <paramref name="query"/> as it stands in the document.</summary>
    public string Answer(int query) => Text.Substring(Queries[query].AnswerSpan.Start, Queries[query].AnswerSpan.Length);

    /// <summary>The pair query <paramref name="query"/> asks for.</summary>
    public RecallPair QueriedPair(int query) => Pairs[Queries[query].PairIndex];

    /// <summary>Where the queried pair starts within the context, 0 (first) to 1 (last) as in the paper's answer depth.</summary>
    public double Depth(int query)
    {
        int last = Pairs[^1].KeySpan.Start - Context.Start;
        return last == 0 ? 0 : (double)(QueriedPair(query).KeySpan.Start - Context.Start) / last;
    }

    /// <summary>Indices of the pairs whose key differs from the key of query <paramref name="query"/> in exactly one character (the near-miss distractors).</summary>
    public IReadOnlyList<int> NearMisses(int query)
    {
        string key = QueriedPair(query).Key;
        var result = new List<int>();
        for (int i = 0; i < Pairs.Count; i++)
            if (HammingDistance(Pairs[i].Key, key) == 1) result.Add(i);
        return result;
    }

    /// <summary>Positions at which two strings of equal length differ; int.MaxValue when the lengths differ.</summary>
    public static int HammingDistance(string a, string b)
    {
        if (a.Length != b.Length) return int.MaxValue;
        int d = 0;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) d++;
        return d;
    }

    /// <summary>
    /// Recovers pairs, queries and spans from the text of a document in the recall format
    /// (<c>k=v … | k?v …</c>; see <see cref="RecallTaskGenerator"/>), so that a dataset's val split can be scored without
    /// a side file. Throws <see cref="FormatException"/> naming the offset and what is wrong.
    /// </summary>
    public static RecallExample Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        const string Separator = " | ";
        int sep = text.IndexOf(Separator, StringComparison.Ordinal);
        if (sep < 0) throw new FormatException($"not a recall document: no \"{Separator}\" between context and queries in \"{Abbreviate(text)}\"");
        if (text.IndexOf('|', sep + Separator.Length) >= 0) throw new FormatException($"not a recall document: a second '|' after offset {sep + 1} in \"{Abbreviate(text)}\"");

        var pairs = new List<RecallPair>();
        var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (start, length) in Words(text, 0, sep))
        {
            int eq = text.IndexOf('=', start, length);
            if (eq < 0)
            {
                if (text.IndexOf('?', start, length) >= 0) throw new FormatException($"a query \"{text.Substring(start, length)}\" at offset {start} stands in the context");
                continue;   // filler
            }
            var pair = new RecallPair(text[start..eq], text[(eq + 1)..(start + length)], new IndexSpan(start, eq - start), new IndexSpan(eq + 1, start + length - eq - 1));
            if (pair.Key.Length == 0 || pair.Value.Length == 0 || pair.Value.Contains('='))
                throw new FormatException($"malformed pair \"{text.Substring(start, length)}\" at offset {start}");
            if (!byKey.TryAdd(pair.Key, pairs.Count)) throw new FormatException($"key \"{pair.Key}\" at offset {start} occurs twice in the context");
            pairs.Add(pair);
        }
        if (pairs.Count == 0) throw new FormatException($"no key=value pair in the context of \"{Abbreviate(text)}\"");

        var queries = new List<RecallQuery>();
        foreach (var (start, length) in Words(text, sep + Separator.Length, text.Length))
        {
            int q = text.IndexOf('?', start, length);
            if (q <= start || q == start + length - 1) throw new FormatException($"malformed query \"{text.Substring(start, length)}\" at offset {start}: expected key?value");
            string key = text[start..q];
            if (!byKey.TryGetValue(key, out int pairIndex)) throw new FormatException($"query key \"{key}\" at offset {start} is not in the context");
            queries.Add(new RecallQuery(pairIndex, new IndexSpan(start, q - start), new IndexSpan(q + 1, start + length - q - 1)));
        }
        if (queries.Count == 0) throw new FormatException($"no query after the context of \"{Abbreviate(text)}\"");
        return new RecallExample(text, new IndexSpan(0, sep), pairs, queries);

        // Space-separated words of text[from, to); a doubled, leading or trailing space is an error, since the generator never writes one.
        static IEnumerable<(int Start, int Length)> Words(string text, int from, int to)
        {
            int start = from;
            for (int i = from; i <= to; i++)
            {
                if (i < to && text[i] != ' ') continue;
                if (i == start) throw new FormatException($"empty word at offset {i} of \"{Abbreviate(text)}\"");
                yield return (start, i - start);
                start = i + 1;
            }
        }
    }

    private static string Abbreviate(string s) => s.Length <= 60 ? s : s[..57] + "...";

    /// <summary>Checks that every span holds what it says: pair spans around '=', queries' keys and answers equal to their pair's key and value.</summary>
    public void CheckConsistency()
    {
        foreach (var p in Pairs)
        {
            if (Text.Substring(p.KeySpan.Start, p.KeySpan.Length) != p.Key || Text.Substring(p.ValueSpan.Start, p.ValueSpan.Length) != p.Value || Text[p.KeySpan.End] != '=')
                throw new InvalidDataException($"pair {p.Key}={p.Value} does not match the text at {p.Span}");
            if (p.Span.End > Context.End) throw new InvalidDataException($"pair {p.Key}={p.Value} at {p.Span} lies outside the context {Context}");
        }
        for (int q = 0; q < Queries.Count; q++)
        {
            var query = Queries[q];
            var pair = Pairs[query.PairIndex];
            if (Text.Substring(query.KeySpan.Start, query.KeySpan.Length) != pair.Key || Answer(q) != pair.Value)
                throw new InvalidDataException($"query {q} at {query.KeySpan.Start} does not ask {pair.Key} or its answer is not {pair.Value}");
        }
    }
}
