using DiffTransformer.Data;

namespace DiffTransformer.Tasks.Needle;

/// <summary>Puts needles into haystack windows: evaluation contexts and training documents.</summary>
public static class NeedleBuilder
{
    /// <summary>How far back an insertion point may move to land before a word rather than inside one.</summary>
    public const int MaxSnap = 48;

    /// <summary>
    /// The context [end-of-text, haystack with needles]: needle i goes before haystack token round(depth_i · H) of the
    /// <paramref name="haystack"/> window (H tokens), moved back to the nearest word start within <see cref="MaxSnap"/>
    /// tokens; needles at the same point keep the order given. The recorded depth is the insertion point over H.
    /// </summary>
    public static NeedleDocument Build(ITokenizer tokenizer, NeedleTemplate template, int[] haystack, IReadOnlyList<(string Key, string Value, double Depth)> needles)
    {
        int h = haystack.Length;
        var points = new int[needles.Count];
        for (int i = 0; i < needles.Count; i++)
        {
            double depth = needles[i].Depth;
            if (!(depth >= 0 && depth <= 1)) throw new ArgumentException($"needle depth must be in [0, 1], got {depth}");
            int p = (int)Math.Round(depth * h, MidpointRounding.AwayFromZero);
            for (int q = p; q >= Math.Max(0, p - MaxSnap) && p < h; q--)
                if (q == 0 || tokenizer.Decode([haystack[q]]).StartsWith(' ')) { p = q; break; }
            points[i] = p;
        }
        var order = Enumerable.Range(0, needles.Count).OrderBy(i => points[i]).ThenBy(i => i).ToArray();
        var context = new List<int>(h + 64) { tokenizer.EndOfText };
        var spans = new List<NeedleSpan>();
        int cursor = 0;
        foreach (int i in order)
        {
            context.AddRange(haystack[cursor..points[i]]);
            cursor = points[i];
            var (tokens, valueStart, valueLength) = template.EncodeNeedle(tokenizer, needles[i].Key, needles[i].Value);
            spans.Add(new NeedleSpan(needles[i].Key, needles[i].Value, context.Count, tokens.Length, context.Count + valueStart, valueLength,
                                     h == 0 ? 0 : (double)points[i] / h));
            context.AddRange(tokens);
        }
        context.AddRange(haystack[cursor..]);
        return new NeedleDocument([.. context], spans, h);
    }

    /// <summary>
    /// The shortest training document: a quarter of the context, but at least 96 tokens (one needle, its question and
    /// answer and some haystack fit in 96 bytes with the default template), and at most the context.
    /// </summary>
    public static int MinTrainingLength(NeedleTaskOptions options) => Math.Min(options.ContextLength, Math.Max(96, options.ContextLength / 4));

    /// <summary><paramref name="count"/> distinct keys of <paramref name="keys"/>, in random order.</summary>
    public static string[] DrawKeys(Random rng, IReadOnlyList<string> keys, int count)
    {
        if (count > keys.Count) throw new ArgumentException($"{count} needles need {count} distinct keys, but only {keys.Count} are given");
        var pool = keys.ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = rng.Next(i, pool.Length);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool[..count];
    }

    /// <summary><paramref name="count"/> distinct numbers of <paramref name="digits"/> digits without a leading zero.</summary>
    public static string[] DrawValues(Random rng, int count, int digits)
    {
        int low = (int)Math.Pow(10, digits - 1), high = (int)Math.Pow(10, digits);
        if (count > high - low) throw new ArgumentException($"{count} distinct {digits}-digit values do not exist");
        var values = new HashSet<int>();
        var result = new List<string>();
        while (result.Count < count)
        {
            int v = rng.Next(low, high);
            if (values.Add(v)) result.Add(v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return [.. result];
    }

    /// <summary>
    /// One training document of the needle task (tokens without the end-of-text the dataset writer puts after it):
    /// with probability <see cref="NeedleTaskOptions.PlainFraction"/> plain haystack; otherwise 1 to MaxNeedles needles at
    /// uniform depths, then 1 to MaxQuestions of them asked in random order, each question followed by its answer. The
    /// length is uniform in [<see cref="MinTrainingLength"/>, ContextLength] tokens, end-of-text included.
    /// </summary>
    public static int[] TrainingDocument(NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, Random rng)
    {
        int length = rng.Next(MinTrainingLength(options), options.ContextLength + 1) - 1;   // tokens after the end-of-text
        if (rng.NextDouble() < options.PlainFraction) return haystack.Window(tokenizer, length, rng);
        for (int needles = rng.Next(1, options.MaxNeedles + 1); ; needles--)
        {
            var keys = DrawKeys(rng, options.Keys, needles);
            var values = DrawValues(rng, needles, options.ValueDigits);
            int asked = rng.Next(1, Math.Min(needles, options.MaxQuestions) + 1);
            var qa = new List<int>();
            foreach (int i in Enumerable.Range(0, needles).OrderBy(_ => rng.Next()).Take(asked))
                qa.AddRange([.. options.Template.EncodeQuestion(tokenizer, keys[i]), .. options.Template.EncodeAnswer(tokenizer, values[i])]);
            int needleTokens = keys.Select((k, i) => options.Template.EncodeNeedle(tokenizer, k, values[i]).Tokens.Length).Sum();
            int h = length - needleTokens - qa.Count;
            if (h < 4 && needles > 1) continue;                                    // too many needles for this length: fewer
            if (h < 4) return haystack.Window(tokenizer, length, rng);             // not even one fits: a plain document
            var doc = Build(tokenizer, options.Template, haystack.Window(tokenizer, h, rng),
                            keys.Select((k, i) => (k, values[i], rng.NextDouble())).ToList());
            return [.. doc.Context[1..], .. qa];
        }
    }

    /// <summary>
    /// Evaluation prompts: <paramref name="samples"/> documents of <paramref name="needles"/> needles, the first
    /// <paramref name="asked"/> in a row at <paramref name="depth"/> (a negative depth: each its own uniform draw) and the
    /// rest at uniform depths, each asked in its own prompt (the document, then the question), which leaves
    /// <paramref name="answerRoom"/> tokens of <paramref name="length"/> for the answer whatever the key. Empty when the
    /// needles do not fit. Document s depends only on (<paramref name="seed"/>, s) and the tokenizer.
    /// </summary>
    public static List<NeedlePrompt> Prompts(ITokenizer tokenizer, Haystack haystack, NeedleTaskOptions task, int length, int answerRoom,
        int needles, int asked, double depth, int samples, ulong seed)
    {
        int questionRoom = task.Keys.Max(k => task.Template.EncodeQuestion(tokenizer, k).Length);
        var prompts = new List<NeedlePrompt>();
        for (int s = 0; s < samples; s++)
        {
            var rng = NeedleDataset.DocumentRandom(seed, s);
            var keys = DrawKeys(rng, task.Keys, needles);
            var values = DrawValues(rng, needles, task.ValueDigits);
            int needleTokens = keys.Select((k, i) => task.Template.EncodeNeedle(tokenizer, k, values[i]).Tokens.Length).Sum();
            int h = length - answerRoom - questionRoom - 1 - needleTokens;
            if (h < 8) return [];
            var placements = keys.Select((k, i) => (k, values[i], i < asked && depth >= 0 ? depth : rng.NextDouble())).ToList();
            var doc = Build(tokenizer, task.Template, haystack.Window(tokenizer, h, rng), placements);
            string context = tokenizer.Decode(doc.Context[1..]);
            for (int j = 0; j < asked; j++)
                prompts.Add(new NeedlePrompt(s, doc, [.. doc.Context, .. task.Template.EncodeQuestion(tokenizer, keys[j])], keys[j], values[j],
                                             values.Where((_, i) => i != j).ToList(), context));
        }
        return prompts;
    }
}
