using System.Text.Json;

namespace DebertaSharp.Training.Data;

/// <summary>An answer span of a SQuAD question: its text and the character where it starts in the context.</summary>
/// <param name="Text">The answer text, equal to <c>context[Start..Start+Text.Length]</c>.</param>
/// <param name="Start">Character offset (UTF-16) in the context.</param>
public sealed record SquadAnswer(string Text, int Start);

/// <summary>A question on a context with its gold answers (none for an unanswerable SQuAD 2.0 question).</summary>
/// <param name="Id">The question id.</param>
/// <param name="Question">The question.</param>
/// <param name="Context">The paragraph.</param>
/// <param name="Answers">Gold answers (several for SQuAD dev sets).</param>
/// <param name="IsImpossible">SQuAD 2.0: the context does not answer the question.</param>
/// <param name="Line">The line of the question in the file (1-based).</param>
public sealed record SquadExample(string Id, string Question, string Context, IReadOnlyList<SquadAnswer> Answers, bool IsImpossible, int Line);

/// <summary>
/// Reads SQuAD-format JSON (<c>{"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers":
/// [{"text", "answer_start"}], "is_impossible"?}]}]}]}</c>, v1.1 and v2.0).
/// </summary>
public static class SquadFile
{
    /// <summary>Reads every question.</summary>
    /// <exception cref="DatasetException">The file is missing, empty or not JSON; a field is missing or of the wrong
    /// type; an answer lies outside its context or does not match the context at <c>answer_start</c>; a question has
    /// no answer and is not marked impossible; an id repeats (each names file and line).</exception>
    public static IReadOnlyList<SquadExample> Read(string path)
    {
        string text = TabularFile.ReadText(path);
        var root = PositionedJson.Parse(path, System.Text.Encoding.UTF8.GetBytes(text));
        var examples = new List<SquadExample>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var data = Require(path, root, "data", JsonTokenType.StartArray, "the top level");
        foreach (var article in data.Items!)
        {
            Expect(path, article, JsonTokenType.StartObject, "an article");
            foreach (var paragraph in Require(path, article, "paragraphs", JsonTokenType.StartArray, "an article").Items!)
            {
                Expect(path, paragraph, JsonTokenType.StartObject, "a paragraph");
                string context = Require(path, paragraph, "context", JsonTokenType.String, "a paragraph").Text!;
                foreach (var qa in Require(path, paragraph, "qas", JsonTokenType.StartArray, "a paragraph").Items!)
                {
                    Expect(path, qa, JsonTokenType.StartObject, "a question");
                    var idNode = qa["id"] ?? throw new DatasetException($"{path}:{qa.Line}: the question has no 'id'.");
                    string id = idNode.Kind is JsonTokenType.String or JsonTokenType.Number ? idNode.Text! :
                        throw new DatasetException($"{path}:{idNode.Line}: 'id' must be a string, got {idNode.Describe()}.");
                    if (!ids.Add(id)) throw new DatasetException($"{path}:{idNode.Line}: question id '{id}' appears twice.");
                    string question = Require(path, qa, "question", JsonTokenType.String, "a question").Text!;
                    bool impossible = false;
                    if (qa["is_impossible"] is { } flag)
                    {
                        if (flag.Kind is not (JsonTokenType.True or JsonTokenType.False))
                            throw new DatasetException($"{path}:{flag.Line}: 'is_impossible' must be true or false, got {flag.Describe()}.");
                        impossible = flag.Kind == JsonTokenType.True;
                    }
                    var answers = new List<SquadAnswer>();
                    foreach (var answer in Require(path, qa, "answers", JsonTokenType.StartArray, "a question").Items!)
                    {
                        Expect(path, answer, JsonTokenType.StartObject, "an answer");
                        string answerText = Require(path, answer, "text", JsonTokenType.String, "an answer").Text!;
                        var startNode = Require(path, answer, "answer_start", JsonTokenType.Number, "an answer");
                        if (startNode.Number != Math.Floor(startNode.Number) || startNode.Number < 0 || startNode.Number > int.MaxValue)
                            throw new DatasetException($"{path}:{startNode.Line}: 'answer_start' must be a non-negative integer, got {startNode.Text}.");
                        int start = (int)startNode.Number;
                        if (start > context.Length - answerText.Length) // not start + length: that overflows for answer_start near int.MaxValue
                            throw new DatasetException(
                                $"{path}:{answer.Line}: answer '{Clip(answerText)}' at answer_start {start} lies outside its context ({context.Length} characters) in question '{id}'.");
                        string there = context.Substring(start, answerText.Length);
                        if (!string.Equals(there, answerText, StringComparison.Ordinal))
                            throw new DatasetException(
                                $"{path}:{answer.Line}: answer '{Clip(answerText)}' does not match the context at answer_start {start}, which reads '{Clip(there)}' (question '{id}').");
                        answers.Add(new SquadAnswer(answerText, start));
                    }
                    if (impossible && answers.Count > 0)
                        throw new DatasetException($"{path}:{qa.Line}: question '{id}' is marked is_impossible but has {answers.Count} answers.");
                    if (!impossible && answers.Count == 0)
                        throw new DatasetException($"{path}:{qa.Line}: question '{id}' has no answers; mark it \"is_impossible\": true (SQuAD 2.0) or give an answer.");
                    examples.Add(new SquadExample(id, question, context, answers, impossible, qa.Line));
                }
            }
        }
        if (examples.Count == 0) throw new DatasetException($"'{path}' has no questions.");
        return examples;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..37] + "…";

    private static void Expect(string path, PositionedJson node, JsonTokenType kind, string what)
    {
        if (node.Kind != kind)
            throw new DatasetException($"{path}:{node.Line}: {what} must be {(kind == JsonTokenType.StartObject ? "an object" : "an array")}, got {node.Describe()}.");
    }

    private static PositionedJson Require(string path, PositionedJson parent, string name, JsonTokenType kind, string where)
    {
        var node = parent[name] ?? throw new DatasetException($"{path}:{parent.Line}: {where} has no '{name}'.");
        if (node.Kind != kind)
        {
            string expected = kind switch
            {
                JsonTokenType.StartArray => "an array",
                JsonTokenType.StartObject => "an object",
                JsonTokenType.String => "a string",
                _ => "a number",
            };
            throw new DatasetException($"{path}:{node.Line}: '{name}' must be {expected}, got {node.Describe()}.");
        }
        return node;
    }
}
