using DiffTransformer.Data;
using DiffTransformer.Model;

namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// The needle task's score during training: <see cref="Prompts"/> single-needle questions at the task's context length
/// and uniform depths, in the dataset's haystack, drawn once from a seed apart from the training documents' and answered
/// by greedy decoding. Reports needle_acc (exact match) and needle_unsupported (a number found nowhere in the context);
/// for the facts task also fact_faithful and fact_hallucinated (counterfactual contexts answered with the context's and
/// with the memorised value) and fact_memory (closed-book questions answered with the memorised value), on
/// <see cref="FactPromptsPerProbe"/> documents each.
/// </summary>
public sealed class NeedleTaskEvaluator : ITaskEvaluator
{
    public const int Prompts = 64;
    public const int FactPromptsPerProbe = 32;
    private const ulong EvalSalt = 0x6E6565646C652D65UL;

    private readonly ITokenizer tokenizer = Tokenizers.Create(NeedleDataset.TokenizerName);
    private readonly List<NeedlePrompt> prompts;
    private readonly int answerRoom;
    private readonly List<FactPrompt> factPrompts = [];
    private readonly List<string> warnings = [];

    public NeedleTaskEvaluator(NeedleTaskFile task, int maxSeqLen)
    {
        var o = task.Options;
        answerRoom = o.ValueDigits + 3;
        if (o.ContextLength > maxSeqLen)
            throw new ConfigException($"the needle task's documents are {o.ContextLength} tokens but the model's max_seq_len is {maxSeqLen}");
        var haystack = NeedleDataset.OpenHaystack(task.Haystack, task.HaystackField, task.Seed);
        prompts = NeedleBuilder.Prompts(tokenizer, haystack, o, o.ContextLength, answerRoom, needles: 1, asked: 1, depth: -1, Prompts, (ulong)task.Seed ^ EvalSalt);
        if (prompts.Count == 0) throw new ConfigException($"the needle task's context of {o.ContextLength} tokens cannot hold one needle and its question");
        if (o.Facts.Count > 0)
            foreach (var probe in new[] { FactProbe.Counterfactual, FactProbe.ClosedBook })
            {
                // one distractor needle; none when it does not fit (the built-in facts task's counterfactual questions at 128 tokens)
                int? distractors = new[] { 1, 0 }.Cast<int?>().FirstOrDefault(d => NeedleBuilder.FactPromptsFit(tokenizer, o, probe, o.ContextLength, answerRoom, d!.Value));
                string metrics = probe == FactProbe.Counterfactual ? "fact_faithful and fact_hallucinated" : "fact_memory";
                if (distractors is not int d)
                {
                    warnings.Add($"the facts task's {Name(probe)} questions do not fit its documents of {o.ContextLength} tokens even without a distractor needle: " +
                                 $"{metrics} are not measured (train with a longer --seq-len)");
                    continue;
                }
                if (d == 0)
                    warnings.Add($"{metrics}: the facts task's {Name(probe)} questions are asked without a distractor needle, since with one they do not fit its documents of {o.ContextLength} tokens");
                factPrompts.AddRange(NeedleBuilder.FactPrompts(tokenizer, haystack, o, probe, o.ContextLength, answerRoom, d, depth: -1,
                                                               FactPromptsPerProbe, (ulong)task.Seed ^ EvalSalt ^ (ulong)(probe + 1)));
            }
    }

    public IReadOnlyList<string> Warnings => warnings;

    private static string Name(FactProbe probe) => probe == FactProbe.Counterfactual ? "counterfactual" : "closed-book";

    public IReadOnlyDictionary<string, double> Evaluate(LanguageModel model)
    {
        var outputs = GreedyDecoder.Decode(model, prompts.Select(p => p.Tokens).ToList(), answerRoom);
        int correct = 0, unsupported = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            var k = NeedleAnswers.Classify(tokenizer.Decode(outputs[i]), prompts[i].Value, prompts[i].OtherValues, prompts[i].ContextText);
            if (k == AnswerClass.Correct) correct++;
            if (k == AnswerClass.Unsupported) unsupported++;
        }
        var metrics = new Dictionary<string, double> { ["needle_acc"] = (double)correct / prompts.Count, ["needle_unsupported"] = (double)unsupported / prompts.Count };
        if (factPrompts.Count == 0) return metrics;
        var factOutputs = GreedyDecoder.Decode(model, factPrompts.Select(p => p.Prompt.Tokens).ToList(), answerRoom);
        var classes = factPrompts.Select((p, i) => (p.Probe, Class: NeedleAnswers.ClassifyFact(tokenizer.Decode(factOutputs[i]), p.ContextValue, p.MemorisedValue,
                                                                                                 p.Prompt.OtherValues, p.Prompt.ContextText))).ToList();
        void Share(string name, FactProbe probe, FactAnswerClass k)
        {
            int n = classes.Count(c => c.Probe == probe);                      // 0 when the context cannot hold the probe's needles (a warning says so)
            if (n > 0) metrics[name] = (double)classes.Count(c => c.Probe == probe && c.Class == k) / n;
        }
        Share("fact_faithful", FactProbe.Counterfactual, FactAnswerClass.Context);
        Share("fact_hallucinated", FactProbe.Counterfactual, FactAnswerClass.Memory);
        Share("fact_memory", FactProbe.ClosedBook, FactAnswerClass.Memory);
        return metrics;
    }
}
