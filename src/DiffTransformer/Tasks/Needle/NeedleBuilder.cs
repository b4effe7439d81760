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
    /// The shortest training document: a quarter of the context, but at least 128 tokens (one needle, its question with
    /// the answer's prefix, the answer and some haystack take 116 bytes with the default template and the longest default
    /// key), and at most the context.
    /// </summary>
    public static int MinTrainingLength(NeedleTaskOptions options) => Math.Min(options.ContextLength, Math.Max(128, options.ContextLength / 4));

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
    /// uniform depths, then 1 to MaxQuestions of them asked in random order, each question followed by its answer. With
    /// fixed facts (the facts task), a needle document asks one of them instead with probability FactFraction
    /// (<see cref="FactDocument"/>). The length is uniform in [<see cref="MinTrainingLength"/>, ContextLength] tokens,
    /// end-of-text included.
    /// </summary>
    public static int[] TrainingDocument(NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, Random rng)
    {
        int length = rng.Next(MinTrainingLength(options), options.ContextLength + 1) - 1;   // tokens after the end-of-text
        if (rng.NextDouble() < options.PlainFraction) return haystack.Window(tokenizer, length, rng);
        if (options.Facts.Count > 0 && rng.NextDouble() < options.FactFraction) return FactDocument(options, haystack, tokenizer, rng, length);
        if (options.DenseFraction > 0 && rng.NextDouble() < options.DenseFraction) return DenseDocument(options, haystack, tokenizer, rng);
        for (int needles = rng.Next(1, options.MaxNeedles + 1); ; needles--)
        {
            var keys = DrawKeys(rng, options.Keys, needles);
            var values = DrawValues(rng, needles, options.ValueDigits);
            int asked = rng.Next(1, Math.Min(needles, options.MaxQuestions) + 1);
            var qa = new List<int>();
            foreach (int i in Enumerable.Range(0, needles).OrderBy(_ => rng.Next()).Take(asked)) qa.AddRange(QuestionAndAnswer(options, tokenizer, keys[i], values[i]));
            var doc = Compose(options, haystack, tokenizer, rng, length, keys, values, qa);
            if (doc is not null) return doc;
            if (needles == 1) return haystack.Window(tokenizer, length, rng);     // not even one fits: a plain document
        }
    }

    /// <summary>
    /// A document of the facts task that asks fixed fact f (drawn uniformly): 0 to MaxNeedles − 1 ordinary needles and,
    /// with probability OverrideFraction, f stated with another value; the answer is that value when stated, f's fixed
    /// value otherwise. Fewer ordinary needles when they do not fit; without room even for the question, plain text.
    /// </summary>
    public static int[] FactDocument(NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, Random rng, int length)
    {
        var fact = options.Facts[rng.Next(options.Facts.Count)];
        bool stated = rng.NextDouble() < options.OverrideFraction;
        string answer = stated ? OtherValue(rng, options.ValueDigits, fact.Value) : fact.Value;
        var qa = QuestionAndAnswer(options, tokenizer, fact.Key, answer);
        for (int others = rng.Next(0, options.MaxNeedles); others >= 0; others--)
        {
            var keys = DrawKeys(rng, options.Keys, others).ToList();
            var values = DrawValues(rng, others, options.ValueDigits).Where(v => v != answer).Take(others).ToList();
            keys = keys.Take(values.Count).ToList();
            if (stated) { keys.Add(fact.Key); values.Add(answer); }
            var doc = Compose(options, haystack, tokenizer, rng, length, [.. keys], [.. values], qa);
            if (doc is not null) return doc;
        }
        return haystack.Window(tokenizer, length, rng);
    }

    /// <summary>
    /// A dense needle document: 1 to MaxNeedles needles in a haystack window of 4–16 tokens, then every needle asked in
    /// random order, each followed by its answer; fewer needles when they do not fit the context.
    /// </summary>
    public static int[] DenseDocument(NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, Random rng)
    {
        int h = rng.Next(4, 17);
        for (int needles = rng.Next(1, options.MaxNeedles + 1); needles >= 1; needles--)
        {
            var keys = DrawKeys(rng, options.Keys, needles);
            var values = DrawValues(rng, needles, options.ValueDigits);
            var qa = new List<int>();
            foreach (int i in Enumerable.Range(0, needles).OrderBy(_ => rng.Next())) qa.AddRange(QuestionAndAnswer(options, tokenizer, keys[i], values[i]));
            int length = h + NeedleTokens(options.Template, tokenizer, keys, values) + qa.Count;
            if (length > options.ContextLength - 1) continue;
            var doc = Compose(options, haystack, tokenizer, rng, length, keys, values, qa);
            if (doc is not null) return doc;
        }
        return haystack.Window(tokenizer, MinTrainingLength(options) - 1, rng);
    }

    /// <summary>A question and its answer, as training documents end: the question's tokens, then " {value}.".</summary>
    private static List<int> QuestionAndAnswer(NeedleTaskOptions options, ITokenizer tokenizer, string key, string value) =>
        [.. options.Template.EncodeQuestion(tokenizer, key), .. options.Template.EncodeAnswer(tokenizer, value)];

    /// <summary>Tokens the needles of <paramref name="keys"/> and <paramref name="values"/> take in a context.</summary>
    private static int NeedleTokens(NeedleTemplate template, ITokenizer tokenizer, IReadOnlyList<string> keys, IReadOnlyList<string> values) =>
        keys.Select((k, i) => template.EncodeNeedle(tokenizer, k, values[i]).Tokens.Length).Sum();

    /// <summary>A <paramref name="digits"/>-digit value other than <paramref name="value"/>.</summary>
    public static string OtherValue(Random rng, int digits, string value)
    {
        while (true)
        {
            string v = DrawValues(rng, 1, digits)[0];
            if (v != value) return v;
        }
    }

    /// <summary>
    /// <paramref name="keys"/>' needles at uniform depths in a haystack window that leaves room for them and
    /// <paramref name="qa"/> within <paramref name="length"/> tokens, then <paramref name="qa"/>; null when fewer than 4
    /// haystack tokens would remain (without a needle, null only when not even the questions fit).
    /// </summary>
    private static int[]? Compose(NeedleTaskOptions options, Haystack haystack, ITokenizer tokenizer, Random rng, int length,
        string[] keys, string[] values, List<int> qa)
    {
        int h = length - NeedleTokens(options.Template, tokenizer, keys, values) - qa.Count;
        if (h < 4) return null;
        var doc = Build(tokenizer, options.Template, haystack.Window(tokenizer, h, rng),
                        keys.Select((k, i) => (k, values[i], rng.NextDouble())).ToList());
        return [.. doc.Context[1..], .. qa];
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
            int h = length - answerRoom - questionRoom - 1 - NeedleTokens(task.Template, tokenizer, keys, values);
            if (h < MinPromptHaystack) return [];
            var placements = keys.Select((k, i) => (k, values[i], i < asked && depth >= 0 ? depth : rng.NextDouble())).ToList();
            var doc = Build(tokenizer, task.Template, haystack.Window(tokenizer, h, rng), placements);
            string context = tokenizer.Decode(doc.Context[1..]);
            for (int j = 0; j < asked; j++)
                prompts.Add(new NeedlePrompt(s, doc, [.. doc.Context, .. task.Template.EncodeQuestion(tokenizer, keys[j])], keys[j], values[j],
                                             values.Where((_, i) => i != j).ToList(), context));
        }
        return prompts;
    }

    /// <summary>Fewest haystack tokens of an evaluation prompt: with fewer, the needles would hardly be hidden in anything.</summary>
    public const int MinPromptHaystack = 8;

    /// <summary>
    /// Whether <see cref="FactPrompts"/> of <paramref name="probe"/> fit <paramref name="length"/> tokens with
    /// <paramref name="distractors"/> distractor needles whatever keys they draw: the longest question, the longest fact
    /// needle (counterfactual), the longest needles of ordinary keys (distractors, and the asked key of open book), the
    /// answer room and <see cref="MinPromptHaystack"/> haystack tokens. Values count one token per byte, the most any of
    /// our tokenizers spends on digits, so the bound holds for every value.
    /// </summary>
    public static bool FactPromptsFit(ITokenizer tokenizer, NeedleTaskOptions task, FactProbe probe, int length, int answerRoom, int distractors)
    {
        int MaxNeedle(string key)
        {
            var (tokens, valueStart, valueLength) = task.Template.EncodeNeedle(tokenizer, key, new string('1', task.ValueDigits));
            int valueBytes = System.Text.Encoding.UTF8.GetByteCount(tokenizer.Decode(tokens.AsSpan(valueStart, valueLength)));   // the same for every value
            return tokens.Length - valueLength + valueBytes;
        }
        int needles = task.Keys.Select(MaxNeedle).OrderDescending().Take(distractors + (probe == FactProbe.OpenBook ? 1 : 0)).Sum()
                      + (probe == FactProbe.Counterfactual ? task.Facts.Select(f => MaxNeedle(f.Key)).DefaultIfEmpty().Max() : 0);
        return length - answerRoom - FactQuestionRoom(tokenizer, task) - 1 - needles >= MinPromptHaystack;
    }

    /// <summary>Room every fact prompt leaves for its question: the longest question of any key, fact or ordinary.</summary>
    private static int FactQuestionRoom(ITokenizer tokenizer, NeedleTaskOptions task) =>
        task.Keys.Concat(task.Facts.Select(f => f.Key)).Max(k => task.Template.EncodeQuestion(tokenizer, k).Length);

    /// <summary>
    /// Questions of <c>eval faithfulness</c>: <paramref name="samples"/> documents of <paramref name="length"/> tokens (answer
    /// room included) with <paramref name="distractors"/> ordinary needles at uniform depths and one asked key: for
    /// <see cref="FactProbe.Counterfactual"/> a fixed fact stated with another value at <paramref name="depth"/>, for
    /// <see cref="FactProbe.ClosedBook"/> a fixed fact not stated, for <see cref="FactProbe.OpenBook"/> an ordinary key
    /// stated at <paramref name="depth"/> (a negative depth: uniform). Facts are taken in turn (sample s asks fact s mod F).
    /// Empty when the needles do not fit (<see cref="FactPromptsFit"/>, decided for the cell from its worst-case keys, so
    /// that it never depends on which keys the samples happen to draw). Document s depends only on (<paramref name="seed"/>,
    /// s) and the tokenizer; the haystack takes what the needles and the question leave.
    /// </summary>
    public static List<FactPrompt> FactPrompts(ITokenizer tokenizer, Haystack haystack, NeedleTaskOptions task, FactProbe probe, int length, int answerRoom,
        int distractors, double depth, int samples, ulong seed)
    {
        if (task.Facts.Count == 0) throw new ArgumentException("the task has no fixed facts (a dataset generated with --task facts has them)");
        if (distractors + (probe == FactProbe.OpenBook ? 1 : 0) > task.Keys.Count)
            throw new ArgumentException($"{distractors} distractors need as many needle keys; {task.Keys.Count} are given");
        if (!FactPromptsFit(tokenizer, task, probe, length, answerRoom, distractors)) return [];
        int questionRoom = FactQuestionRoom(tokenizer, task);
        var prompts = new List<FactPrompt>();
        for (int s = 0; s < samples; s++)
        {
            var rng = NeedleDataset.DocumentRandom(seed, s);
            var fact = task.Facts[s % task.Facts.Count];
            var keys = DrawKeys(rng, task.Keys, distractors + (probe == FactProbe.OpenBook ? 1 : 0)).ToList();
            var values = DrawValues(rng, keys.Count + 1, task.ValueDigits).Where(v => v != fact.Value).Take(keys.Count).ToList();
            if (values.Count < keys.Count) values.Add(OtherValue(rng, task.ValueDigits, fact.Value));
            string askedKey = fact.Key;
            string? stated = null;                                          // what the context says for the asked key (needle 0)
            if (probe == FactProbe.OpenBook) (askedKey, stated) = (keys[0], values[0]);
            else if (probe == FactProbe.Counterfactual)
            {
                do stated = OtherValue(rng, task.ValueDigits, fact.Value); while (values.Contains(stated));
                keys.Insert(0, fact.Key);
                values.Insert(0, stated);
            }
            int h = length - answerRoom - questionRoom - 1 - NeedleTokens(task.Template, tokenizer, keys, values);   // ≥ the worst case's, which fits
            var placements = keys.Select((k, i) => (k, values[i], i == 0 && stated is not null && depth >= 0 ? depth : rng.NextDouble())).ToList();
            var doc = Build(tokenizer, task.Template, haystack.Window(tokenizer, h, rng), placements);
            var others = values.Where(v => v != stated).ToList();
            var prompt = new NeedlePrompt(s, doc, [.. doc.Context, .. task.Template.EncodeQuestion(tokenizer, askedKey)], askedKey, stated ?? "",
                                          others, tokenizer.Decode(doc.Context[1..]));
            prompts.Add(new FactPrompt(probe, prompt, stated, probe == FactProbe.OpenBook ? null : fact.Value));
        }
        return prompts;
    }
}
