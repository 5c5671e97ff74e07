// Generates samples/data/topics-train.csv and topics-test.csv, the quick start's data set (see README.md here).
// Run from the repository root:  dotnet run samples/data/make_topics.cs
// Sentences are assembled from the phrase lists below, written for this project; the output is fixed by the seed.
using System.Text;

var topics = new Dictionary<string, Topic>
{
    ["sports"] = new(
        Nouns: ["match", "goal", "team", "coach", "league", "season", "stadium", "referee", "striker", "tournament", "final", "penalty",
                "race", "runner", "medal", "championship", "pitch", "keeper", "fans", "trophy", "defence", "sprint", "marathon", "score"],
        Verbs: ["scored", "won", "lost", "trained", "defended", "celebrated", "qualified", "tackled", "kicked", "raced"],
        Adjectives: ["unbeaten", "athletic", "fast", "decisive", "competitive", "fit", "victorious", "defensive"],
        Templates: ["{name} {verb} in the {noun} {time}.", "The {noun} was {adj} and the {noun2} {verb} late.",
                    "Fans at the {noun} cheered when {name} {verb}.", "After the {noun}, the {noun2} looked {adj}.",
                    "{name} says the {noun} will decide the {noun2}."]),
    ["food"] = new(
        Nouns: ["recipe", "soup", "bread", "oven", "kitchen", "salad", "flavour", "garlic", "dessert", "chef", "sauce", "spice",
                "dinner", "breakfast", "pasta", "cheese", "butter", "onion", "bakery", "menu", "lemon", "pepper", "cake", "dough"],
        Verbs: ["baked", "cooked", "tasted", "roasted", "seasoned", "stirred", "served", "grilled", "chopped", "melted"],
        Adjectives: ["delicious", "spicy", "sweet", "fresh", "crispy", "salty", "tender", "creamy"],
        Templates: ["{name} {verb} the {noun} {time}.", "The {noun} was {adj} and the {noun2} was {verb} slowly.",
                    "Guests in the {noun} smiled when {name} {verb} the {noun2}.", "After the {noun}, the {noun2} tasted {adj}.",
                    "{name} says the {noun} needs more {noun2}."]),
    ["weather"] = new(
        Nouns: ["rain", "storm", "wind", "snow", "forecast", "cloud", "temperature", "sunshine", "thunder", "fog", "flood", "frost",
                "humidity", "breeze", "hail", "drought", "heatwave", "rainbow", "lightning", "shower", "ice", "sky", "gale", "drizzle"],
        Verbs: ["poured", "froze", "cleared", "blew", "flooded", "warmed", "cooled", "melted", "thundered", "drifted"],
        Adjectives: ["cloudy", "sunny", "stormy", "freezing", "humid", "windy", "foggy", "mild"],
        Templates: ["The {noun} {verb} over the hills {time}.", "The {noun} was {adj} and the {noun2} {verb} all night.",
                    "People in the {place} stayed inside when the {noun} {verb}.", "After the {noun}, the {noun2} felt {adj}.",
                    "{name} says the {noun} will bring {noun2}."]),
    ["technology"] = new(
        Nouns: ["software", "computer", "network", "server", "laptop", "database", "algorithm", "processor", "update", "browser",
                "robot", "battery", "screen", "keyboard", "website", "password", "app", "chip", "cloud storage", "compiler",
                "memory", "code", "router", "printer"],
        Verbs: ["crashed", "installed", "updated", "compiled", "downloaded", "rebooted", "encrypted", "debugged", "launched", "synced"],
        Adjectives: ["digital", "wireless", "faster", "secure", "automatic", "buggy", "online", "portable"],
        Templates: ["{name} {verb} the {noun} {time}.", "The {noun} was {adj} and the {noun2} {verb} twice.",
                    "Engineers in the {place} sighed when the {noun} {verb}.", "After the {noun}, the {noun2} seemed {adj}.",
                    "{name} says the {noun} needs a new {noun2}."]),
};
string[] names = ["Anna", "Ben", "Chloe", "David", "Ella", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Noah",
                  "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Will", "Yuki", "Zoe"];
string[] times = ["yesterday", "this morning", "last night", "on Sunday", "today", "this week", "in the evening", "at noon", "again", "at last"];
string[] places = ["town", "village", "office", "city", "valley", "harbour", "school", "lab"];
// Generic sentences that carry the topic only through their slot words; {gadj} adjectives belong to no topic.
string[] generic = ["{name} talked about the {noun} {time}.", "Nobody expected the {noun} to be so {adj}.", "I read a long article about the {noun}.",
                    "My neighbour keeps asking about the {noun} and the {noun2}.", "It was all about the {noun} {time}.",
                    "{Gadj} {noun} and {gadj} {noun2} {time}.", "There was a lot of {noun} {time}.", "Everyone is talking about the {gadj} {noun}.",
                    "The {noun} {verb} {time}.", "{name} {verb} before the {noun} and the {noun2}.", "What a {gadj} {noun}!",
                    "Is the {noun} really {adj}?"];
string[] neutralAdjectives = ["strong", "heavy", "big", "small", "long", "new", "old", "quiet", "loud", "early", "late", "great", "strange", "perfect"];
// Class sizes differ, so the majority class is a real baseline (35 %).
var shares = new Dictionary<string, double> { ["sports"] = 0.35, ["food"] = 0.25, ["weather"] = 0.2, ["technology"] = 0.2 };

var random = new Random(20251126);
var seen = new HashSet<string>();
string Sentence(Topic t)
{
    string template = random.NextDouble() < 0.5 ? generic[random.Next(generic.Length)] : t.Templates[random.Next(t.Templates.Length)];
    string gadj = neutralAdjectives[random.Next(neutralAdjectives.Length)];
    string noun = t.Nouns[random.Next(t.Nouns.Length)], noun2;
    do noun2 = t.Nouns[random.Next(t.Nouns.Length)]; while (noun2 == noun);
    return template.Replace("{name}", names[random.Next(names.Length)]).Replace("{noun2}", noun2).Replace("{noun}", noun)
        .Replace("{verb}", t.Verbs[random.Next(t.Verbs.Length)]).Replace("{adj}", t.Adjectives[random.Next(t.Adjectives.Length)])
        .Replace("{time}", times[random.Next(times.Length)]).Replace("{place}", places[random.Next(places.Length)])
        .Replace("{Gadj}", char.ToUpperInvariant(gadj[0]) + gadj[1..]).Replace("{gadj}", neutralAdjectives[random.Next(neutralAdjectives.Length)]);
}
void Write(string path, int count)
{
    var rows = new List<(string Text, string Label)>();
    foreach (var (label, share) in shares)
        for (int i = 0; i < (int)Math.Round(count * share); i++)
        {
            string s;
            do s = Sentence(topics[label]); while (!seen.Add(s));     // no sentence twice, in either file
            rows.Add((s, label));
        }
    var text = new StringBuilder("text,label\n");
    foreach (var (s, label) in rows.OrderBy(_ => random.Next())) text.Append('"').Append(s.Replace("\"", "\"\"")).Append("\",").Append(label).Append('\n');
    File.WriteAllText(path, text.ToString());
    Console.WriteLine($"{path}: {rows.Count} sentences");
}
string folder = Path.Combine("samples", "data");
Write(Path.Combine(folder, "topics-train.csv"), 2000);
Write(Path.Combine(folder, "topics-test.csv"), 400);

record Topic(string[] Nouns, string[] Verbs, string[] Adjectives, string[] Templates);
