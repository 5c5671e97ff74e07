namespace DebertaSharp.Training.Metrics;

/// <summary>An entity found in a tag sequence: its type and the first and last word (inclusive).</summary>
/// <param name="Type">Entity type, e.g. <c>PER</c>.</param>
/// <param name="Start">Index of the first word.</param>
/// <param name="End">Index of the last word (inclusive).</param>
public readonly record struct EntitySpan(string Type, int Start, int End);

/// <summary>Entity-level precision, recall and F1 (micro-averaged over entities), and word-level accuracy.</summary>
/// <param name="Precision">Correct predicted entities / predicted entities.</param>
/// <param name="Recall">Correct predicted entities / gold entities.</param>
/// <param name="F1">Harmonic mean of precision and recall (0 when both are 0).</param>
/// <param name="Accuracy">Share of words whose tag is right.</param>
/// <param name="GoldEntities">Number of gold entities.</param>
/// <param name="PredictedEntities">Number of predicted entities.</param>
public sealed record EntityScores(double Precision, double Recall, double F1, double Accuracy, int GoldEntities, int PredictedEntities);

/// <summary>
/// Entity-level scores of BIO / IOBES tagging as <c>seqeval</c> computes them in its default (conlleval) mode:
/// an entity is a maximal run of one type that starts at B-/S- (or at an I-/E- that follows O or another type) and
/// ends before O, B-, S-, a change of type, or after E-/S-. It counts as correct only if type and both ends match.
/// </summary>
public static class EntityMetrics
{
    /// <summary>The entities of one tag sequence.</summary>
    public static IReadOnlyList<EntitySpan> Entities(IReadOnlyList<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var spans = new List<EntitySpan>();
        char prevPrefix = 'O';
        string prevType = "";
        int begin = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            string tag = i < tags.Count ? tags[i] : "O";      // a sentinel O closes the last entity
            char prefix = tag.Length > 0 ? tag[0] : 'O';
            string type = tag.Length > 2 && tag[1] == '-' ? tag[2..] : "";
            if (EndsEntity(prevPrefix, prefix, prevType, type)) spans.Add(new EntitySpan(prevType, begin, i - 1));
            if (StartsEntity(prevPrefix, prefix, prevType, type)) begin = i;
            prevPrefix = prefix;
            prevType = type;
        }
        return spans;
    }

    // Whether the entity open at the previous word ends before this word.
    private static bool EndsEntity(char prev, char tag, string prevType, string type) =>
        prev is 'E' or 'S' or 'L' or 'U'
        || (prev is 'B' or 'I' && tag is 'B' or 'S' or 'O' or 'U')
        || (prev != 'O' && prevType != type);

    // Whether a new entity begins at this word.
    private static bool StartsEntity(char prev, char tag, string prevType, string type) =>
        tag is 'B' or 'S' or 'U'
        || (prev is 'E' or 'S' or 'L' or 'U' && tag is 'E' or 'I' or 'L')
        || (prev == 'O' && tag is 'E' or 'I' or 'L')
        || (tag != 'O' && prevType != type);

    /// <summary>Scores predicted against gold tag sequences (one pair per sentence, equal lengths).</summary>
    /// <exception cref="ArgumentException">Different numbers of sentences, or a sentence whose lengths differ.</exception>
    public static EntityScores Score(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> predicted)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        if (gold.Count != predicted.Count) throw new ArgumentException($"{gold.Count} gold sentences but {predicted.Count} predicted.");
        var goldSet = new HashSet<(int, EntitySpan)>();
        var predSet = new HashSet<(int, EntitySpan)>();
        long words = 0, rightWords = 0;
        for (int s = 0; s < gold.Count; s++)
        {
            if (gold[s].Count != predicted[s].Count)
                throw new ArgumentException($"Sentence {s}: {gold[s].Count} gold tags but {predicted[s].Count} predicted.");
            foreach (var e in Entities(gold[s])) goldSet.Add((s, e));
            foreach (var e in Entities(predicted[s])) predSet.Add((s, e));
            for (int i = 0; i < gold[s].Count; i++)
            {
                words++;
                if (gold[s][i] == predicted[s][i]) rightWords++;
            }
        }
        int correct = goldSet.Count(predSet.Contains);
        double precision = predSet.Count == 0 ? 0 : (double)correct / predSet.Count;
        double recall = goldSet.Count == 0 ? 0 : (double)correct / goldSet.Count;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new EntityScores(precision, recall, f1, words == 0 ? 0 : (double)rightWords / words, goldSet.Count, predSet.Count);
    }
}
