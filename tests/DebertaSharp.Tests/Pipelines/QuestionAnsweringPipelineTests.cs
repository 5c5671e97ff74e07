using DebertaSharp.Pipelines;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>QA against direct model calls: span scoring over context tokens, windows over long contexts, character offsets.</summary>
public class QuestionAnsweringPipelineTests
{
    private const string Question = "Who may copy the software?";
    private const string Context =
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated " +
        "documentation files, to deal in the Software without restriction, including the rights to use, copy, modify and merge.";

    private static readonly QuestionAnsweringOptions TokenSpans = new() { AlignToWords = false };

    /// <summary>
    /// Best spans of one window by hand: the window's ids are cut from the full pair encoding, probabilities are the
    /// softmax over [CLS] and the window's context tokens, spans a ≤ b &lt; a + maxAnswer. Returns character spans.
    /// </summary>
    private static List<(double Score, int Start, int End)> WindowSpans(
        QuestionAnsweringPipeline qa, TokenEncoding full, int questionLength, int start, int count, int maxAnswer)
    {
        int contextStart = questionLength + 2;                 // in the full encoding
        var ids = full.InputIds.Take(contextStart).Concat(full.InputIds.Skip(contextStart + start).Take(count)).Append(qa.Tokenizer.SepTokenId).ToList();
        var types = ids.Select((_, i) => i < contextStart ? 0 : 1).ToList();
        float[][] logits = DirectIds.Run(qa.Model, ids, types);
        double[] Probs(float[] l) => Direct.Softmax([l[0], .. l.Skip(contextStart).Take(count)]);
        double[] ps = Probs(logits[0]), pe = Probs(logits[1]);
        var spans = new List<(double, int, int)>();
        for (int a = 0; a < count; a++)
        {
            for (int b = a; b < Math.Min(a + maxAnswer, count); b++)
            {
                TokenOffset first = full.Offsets[contextStart + start + a], last = full.Offsets[contextStart + start + b];
                int s = first.Start;
                while (s < first.End && Context[s] == ' ')
                {
                    s++;
                }

                spans.Add((ps[a + 1] * pe[b + 1], s, last.End));
            }
        }

        return spans.OrderByDescending(x => x.Item1).ToList();
    }

    [Fact]
    public void ShortContextGivesTheBestSpanOfOneForwardPass()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        TokenEncoding full = qa.Tokenizer.Encode(Question, Context);
        int q = qa.Tokenizer.Encode(Question, new EncodeOptions { AddSpecialTokens = false }).Length;
        var expected = WindowSpans(qa, full, q, 0, full.Length - q - 3, 15);
        var answers = qa.Answer(Question, Context, TokenSpans with { TopK = 3 });
        Assert.Equal(3, answers.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal((expected[i].Start, expected[i].End), (answers[i].Start, answers[i].End));
            Assert.Equal(expected[i].Score, answers[i].Score, 1e-5);
            Assert.Equal(Context[answers[i].Start..answers[i].End], answers[i].Answer);
        }
    }

    [Fact]
    public void LongContextsAreSplitIntoWindowsThatKeepTheQuestion()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        TokenEncoding full = qa.Tokenizer.Encode(Question, Context);
        int q = qa.Tokenizer.Encode(Question, new EncodeOptions { AddSpecialTokens = false }).Length;
        int contextLength = full.Length - q - 3;
        const int maxSeq = 24, stride = 5;
        int room = maxSeq - q - 3;
        Assert.True(contextLength > 3 * room);

        // Windows by hand: every (room − stride) tokens, the last one ending at the context's end.
        var all = new List<(double Score, int Start, int End)>();
        for (int start = 0; ; start += room - stride)
        {
            int count = Math.Min(room, contextLength - start);
            all.AddRange(WindowSpans(qa, full, q, start, count, 4));
            if (start + count >= contextLength)
            {
                break;
            }
        }

        var best = all.GroupBy(s => (s.Start, s.End)).Select(g => g.MaxBy(s => s.Score)).OrderByDescending(s => s.Score).Take(4).ToList();
        var answers = qa.Answer(Question, Context, TokenSpans with { MaxSequenceLength = maxSeq, DocStride = stride, MaxAnswerLength = 4, TopK = 4 });
        Assert.Equal(best.Select(b => (b.Start, b.End)), answers.Select(a => (a.Start, a.End)));
        Assert.Equal(best.Select(b => b.Score), answers.Select(a => (double)a.Score), (x, y) => Math.Abs(x - y) < 1e-5);
        Assert.All(answers, a => Assert.Equal(Context[a.Start..a.End], a.Answer));
    }

    [Fact]
    public void AnswersRespectMaxAnswerLengthAndAlignToWords()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        var tokenizer = qa.Tokenizer;
        foreach (QuestionAnswer a in qa.Answer(Question, Context, TokenSpans with { MaxAnswerLength = 2, TopK = 10 }))
        {
            Assert.InRange(tokenizer.Encode(a.Answer, new EncodeOptions { AddSpecialTokens = false }).Length, 1, 3);
        }

        var words = qa.Answer(Question, Context, new QuestionAnsweringOptions { TopK = 10 });
        Assert.Equal(words.Count, words.Select(a => (a.Start, a.End)).Distinct().Count());
        foreach (QuestionAnswer a in words)
        {
            Assert.True(a.Start == 0 || Context[a.Start - 1] == ' ', $"'{a.Answer}' starts inside a word");
            Assert.True(a.End == Context.Length || Context[a.End] == ' ', $"'{a.Answer}' ends inside a word");
            Assert.Equal(Context[a.Start..a.End], a.Answer);
        }
    }

    [Fact]
    public void ImpossibleAnswerIsOfferedWhenAsked()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        var answers = qa.Answer(Question, Context, new QuestionAnsweringOptions { HandleImpossibleAnswer = true, TopK = 500 });
        QuestionAnswer none = Assert.Single(answers, a => a.Answer == "");
        Assert.Equal((0, 0), (none.Start, none.End));
        Assert.DoesNotContain(qa.Answer(Question, Context, new QuestionAnsweringOptions { TopK = 500 }), a => a.Answer == "");
    }

    [Fact]
    public void BatchedQuestionsMatchSingleOnes()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        qa.BatchSize = 3;
        string[] questions = [Question, "What is free of charge?", "Which rights are included?"];
        var options = new QuestionAnsweringOptions { MaxSequenceLength = 32, TopK = 2 };
        var batched = qa.Answer(questions, [Context, Context, "Use, copy, modify."], options);
        for (int i = 0; i < questions.Length; i++)
        {
            var single = qa.Answer(questions[i], i < 2 ? Context : "Use, copy, modify.", options);
            Assert.Equal(single.Select(a => (a.Start, a.End)), batched[i].Select(a => (a.Start, a.End)));
            Assert.Equal(single[0].Score, batched[i][0].Score, 1e-5);
        }
    }

    [Fact]
    public void BadInputIsNamed()
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        Assert.Contains("context is empty", Assert.Throws<DebertaInputException>(() => qa.Answer(Question, "")).Message);
        Assert.Contains("question is empty", Assert.Throws<DebertaInputException>(() => qa.Answer(" ", Context)).Message);
        var tooLong = Assert.Throws<DebertaInputException>(() => qa.Answer(Question + " " + Question, Context, new QuestionAnsweringOptions { MaxSequenceLength = 12 }));
        Assert.Contains("no room for the context", tooLong.Message);
        Assert.Contains("max_answer_len", Assert.Throws<DebertaInputException>(() => qa.Answer(Question, Context, new QuestionAnsweringOptions { MaxAnswerLength = 0 })).Message);
        Assert.Contains("counts", Assert.Throws<DebertaInputException>(() => qa.Answer([Question], [Context, Context])).Message);
        Assert.Contains("QuestionAnswering", Assert.Throws<DebertaConfigurationException>(() => QuestionAnsweringPipeline.FromPretrained(TaskModels.Ner)).Message);
    }
}
