using DebertaSharp.Pipelines;

/// <summary>Extractive question answering: answers are spans of the context.</summary>
internal static class QuestionAnswering
{
    public static void Run(string model)
    {
        using var qa = QuestionAnsweringPipeline.FromPretrained(model);

        const string context = "Richard Stallman founded the Free Software Foundation in Boston in 1985. " +
                               "It supports the GNU project and publishes the GNU General Public License.";
        foreach (QuestionAnswer answer in qa.Answer("When was the foundation created?", context, new QuestionAnsweringOptions { TopK = 3 }))
        {
            Console.WriteLine($"{answer.Score:F3}  [{answer.Start}, {answer.End})  {answer.Answer}");
        }
    }
}
