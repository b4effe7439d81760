using DiffTransformer.Data;
using DiffTransformer.Tasks.Recall;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Tasks;

/// <summary>The evaluator's bookkeeping: scoring of known logits, oracles through the batching, a real model, token layouts.</summary>
public sealed class RecallEvaluatorTests
{
    private static readonly ITokenizer Bytes = Tokenizers.Create("byte");

    [Fact]
    public void ScoresHandMadeLogits()
    {
        var a = RecallExample.Parse("ab=12 cd=34 | cd?34 ab?12");
        var b = RecallExample.Parse("x ab=56 | ab?56");
        var inputs = new[] { RecallEvaluator.InputTokens(a, Bytes), RecallEvaluator.InputTokens(b, Bytes) };
        Assert.Equal(Bytes.EndOfText, inputs[0][0]);
        Assert.Equal("ab=12 cd=34 | cd?34 ab?12", Bytes.Decode(inputs[0].AsSpan(1)));
        int time = inputs[0].Length;   // row 1 is shorter: its tail is padding
        using var logits = zeros(2, time, Bytes.VocabSize);
        logits[1, time - 1, 'z'] = tensor(100f);   // garbage in the padding must not count
        void Predict(int row, int position, int token) => logits[row, position, token] = tensor(1f);
        // a: "cd?34" right, "ab?12" with the second digit wrong (predicts 3 instead of 2).
        int cd = a.Queries[0].AnswerSpan.Start + RecallEvaluator.PromptOffset, ab = a.Queries[1].AnswerSpan.Start + RecallEvaluator.PromptOffset;
        Predict(0, cd - 1, '3');
        Predict(0, cd, '4');
        Predict(0, ab - 1, '1');
        Predict(0, ab, '3');
        // b: right.
        int b0 = b.Queries[0].AnswerSpan.Start + RecallEvaluator.PromptOffset;
        Predict(1, b0 - 1, '5');
        Predict(1, b0, '6');
        var score = RecallEvaluator.Score(logits, inputs, [a, b]);
        Assert.Equal((2, 3, 2, 6, 5), (score.Documents, score.Queries, score.CorrectQueries, score.Characters, score.CorrectCharacters));
        Assert.Equal(2.0 / 3, score.Accuracy, 12);
        Assert.Equal(5.0 / 6, score.CharacterAccuracy, 12);
        // Cross-entropy: a right character has logit 1 among 256 zeros, the wrong one (the '2' of "12") logit 0 against a 1.
        double right = Math.Log(Math.E + 256) - 1, wrong = Math.Log(Math.E + 256);
        Assert.Equal((5 * right + wrong) / 6, score.AnswerLoss, 5);

        // Uniform logits: argmax is token 0, never an answer character.
        using var flat = zeros(2, time, Bytes.VocabSize);
        Assert.Equal(0, RecallEvaluator.Score(flat, inputs, [a, b]).CorrectCharacters);
    }

    [Fact]
    public void ScoreRefusesMismatchedShapes()
    {
        var a = RecallExample.Parse("ab=12 | ab?12");
        var input = RecallEvaluator.InputTokens(a, Bytes);
        using var shortLogits = zeros(1, input.Length - 1, Bytes.VocabSize);
        Assert.Contains("logits cover only", Assert.Throws<ArgumentException>(() => RecallEvaluator.Score(shortLogits, [input], [a])).Message);
        using var twoRows = zeros(2, input.Length, Bytes.VocabSize);
        Assert.Contains("logits must be (batch = 1, time, vocab)", Assert.Throws<ArgumentException>(() => RecallEvaluator.Score(twoRows, [input], [a])).Message);
    }

    private static IReadOnlyList<RecallExample> Examples(int count) =>
        new RecallTaskGenerator(new RecallTaskOptions(), 17).Generate(0, count, RecallStream.Heldout);

    /// <summary>Cheats by reading the next input token: a perfect predictor, if the batching keeps rows and positions straight.</summary>
    private static Tensor Oracle(Tensor tokens)
    {
        var next = tokens.roll(-1, 1);   // (B, T): next[b, t] = tokens[b, t + 1]
        return nn.functional.one_hot(next, Bytes.VocabSize).to_type(ScalarType.Float32);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void OracleScoresOneAndEchoScoresZero(int batchSize)
    {
        var examples = Examples(20);
        Assert.True(examples.Select(e => e.Text.Length).Distinct().Count() > 3, "documents of several lengths exercise the padding");
        var oracle = RecallEvaluator.Evaluate(Oracle, 256, Bytes, examples, batchSize);
        Assert.Equal(1.0, oracle.Accuracy);
        Assert.Equal(1.0, oracle.CharacterAccuracy);
        Assert.Equal((20, 80, 80, 160, 160), (oracle.Documents, oracle.Queries, oracle.CorrectQueries, oracle.Characters, oracle.CorrectCharacters));
        Assert.Equal(Math.Log(Math.E + 256) - 1, oracle.AnswerLoss, 5);   // one-hot logits: logit 1 against 256 zeros
        // Predicting the current token again: the first answer character always follows '?', so no query is right.
        var echo = RecallEvaluator.Evaluate(t => nn.functional.one_hot(t, Bytes.VocabSize).to_type(ScalarType.Float32), 256, Bytes, examples, batchSize);
        Assert.Equal(0, echo.CorrectQueries);
    }

    [Fact]
    public void TinyModelScoresTheSameWhateverTheBatching()
    {
        manual_seed(3);
        using var model = new LanguageModel(new ModelConfig { EmbedDim = 32, NumLayers = 2, NumHeads = 2, MaxSeqLen = 256 });
        var examples = Examples(12);
        model.train();
        var one = RecallEvaluator.Evaluate(model, Bytes, examples, 1);
        Assert.True(model.training, "the evaluator restores the training mode");
        var many = RecallEvaluator.Evaluate(model, Bytes, examples, 5);
        Assert.Equal(one with { AnswerLossSum = 0 }, many with { AnswerLossSum = 0 });
        Assert.Equal(one.AnswerLoss, many.AnswerLoss, 4);   // padding and batch size change only float rounding
        Assert.InRange(one.Accuracy, 0.0, 1.0);
        Assert.InRange(one.CharacterAccuracy, 0.0, 1.0);
        Assert.Equal((12, 48, 96), (one.Documents, one.Queries, one.Characters));
    }

    [Fact]
    public void RefusesTokenizersThatAreNotByteLevelAndDocumentsLongerThanTheModel()
    {
        var examples = Examples(2);
        var e = Assert.Throws<ArgumentException>(() => RecallEvaluator.Evaluate(Oracle, 256, new TwoTokensPerChar(), examples, 2));
        Assert.Contains("needs one token per character (the byte tokenizer): tokenizer 'two-per-char' encodes", e.Message);
        e = Assert.Throws<ArgumentException>(() => RecallEvaluator.Evaluate(Oracle, 64, Bytes, examples, 2));
        Assert.Contains("more than the model's max_seq_len 64", e.Message);
    }

    [Fact]
    public void LayoutPointsAtThePairsInTheModelInput()
    {
        var ex = RecallExample.Parse("ab=12 fil ad=13 cd=34 xb=99 | cd?34 ab?12");
        var input = RecallEvaluator.InputTokens(ex, Bytes);
        string At(IndexSpan s) => Bytes.Decode(input.AsSpan(s.Start, s.Length));
        var l = RecallEvaluator.Layout(ex, 1);   // "ab?12"
        Assert.Equal("ab", At(l.QueriedKey));
        Assert.Equal("12", At(l.QueriedValue));
        Assert.Equal("ab=12", At(l.QueriedPair));
        Assert.Equal("12", At(l.Answer));
        Assert.Equal("?1", At(l.AnswerPositions));
        Assert.Equal(l.Answer.Start - 1, l.AnswerPositions.Start);
        Assert.Equal(["ad=13", "cd=34", "xb=99"], l.DistractorPairs.Select(At));
        Assert.Equal(["ad=13", "xb=99"], l.NearMissPairs.Select(At));
        Assert.Equal("ab=12 fil ad=13 cd=34 xb=99", At(l.Context));
        Assert.Equal(0.0, l.Depth);
        Assert.Equal(16.0 / 22, RecallEvaluator.Layout(ex, 0).Depth, 12);   // "cd" starts at 16, the last pair at 22
        Assert.Throws<ArgumentOutOfRangeException>(() => RecallEvaluator.Layout(ex, 2));
    }

    private sealed class TwoTokensPerChar : ITokenizer
    {
        public string Name => "two-per-char";
        public int VocabSize => 257;
        public int EndOfText => 256;
        public int[] Encode(string text) => [.. text.SelectMany(c => new[] { (int)c, (int)c })];
        public string Decode(ReadOnlySpan<int> tokens) => throw new NotSupportedException();
    }
}
