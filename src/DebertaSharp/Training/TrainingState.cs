using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DebertaSharp.Training;

/// <summary>One line of the training log: what happened at an optimizer step (HF <c>log_history</c> entry).</summary>
/// <param name="Step">The global optimizer step the values belong to.</param>
/// <param name="Epoch">Fractional epoch (epochs done + share of the current one).</param>
/// <param name="Values">Named values, e.g. <c>loss</c>, <c>learning_rate</c>, <c>grad_norm</c>, <c>eval_accuracy</c>.</param>
public sealed record LogEntry(long Step, double Epoch, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// Where a run stands, saved as <c>trainer_state.json</c> beside the weights of a <see cref="TrainingCheckpoint"/>:
/// enough, with the optimizer and RNG state, to continue exactly where it stopped.
/// </summary>
public sealed class TrainingState
{
    /// <summary>The file name inside a checkpoint folder.</summary>
    public const string FileName = "trainer_state.json";

    /// <summary>Optimizer steps taken since the start of the run.</summary>
    public long GlobalStep { get; set; }

    /// <summary>The epoch (0-based) that the next step belongs to.</summary>
    public int Epoch { get; set; }

    /// <summary>Optimizer steps already taken within <see cref="Epoch"/>.</summary>
    public long StepInEpoch { get; set; }

    /// <summary>The run's seed (data order is a function of seed and epoch).</summary>
    public int Seed { get; set; }

    /// <summary>The base learning rate.</summary>
    public double LearningRate { get; set; }

    /// <summary>The learning-rate schedule of the run.</summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary><see cref="AdamW.StepCount"/> at save time.</summary>
    public long OptimizerStepCount { get; set; }

    /// <summary>Name of the metric that selects the best checkpoint (e.g. <c>eval_accuracy</c>), if any.</summary>
    public string? MetricForBest { get; set; }

    /// <summary>Whether a larger <see cref="MetricForBest"/> is better.</summary>
    public bool GreaterIsBetter { get; set; } = true;

    /// <summary>The best value of <see cref="MetricForBest"/> seen so far.</summary>
    public double? BestMetric { get; set; }

    /// <summary>The folder holding the best checkpoint so far.</summary>
    public string? BestCheckpoint { get; set; }

    /// <summary>Evaluations since the best metric last improved (for early stopping).</summary>
    public int EvaluationsWithoutImprovement { get; set; }

    /// <summary>Every logged step and evaluation so far.</summary>
    public List<LogEntry> LogHistory { get; set; } = [];

    /// <summary>Further fields a training loop wants kept (written under <c>extra</c>).</summary>
    public Dictionary<string, JsonNode?> Extra { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The JSON text of <c>trainer_state.json</c>.</summary>
    public string ToJson()
    {
        var history = new JsonArray();
        foreach (var entry in LogHistory)
        {
            var e = new JsonObject { ["step"] = entry.Step, ["epoch"] = entry.Epoch };
            foreach (var (k, v) in entry.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                e[k] = double.IsFinite(v) ? v : v.ToString(CultureInfo.InvariantCulture);   // JSON has no NaN/∞
            history.Add(e);
        }
        var extra = new JsonObject();
        foreach (var (k, v) in Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal)) extra[k] = v?.DeepClone();
        var root = new JsonObject
        {
            ["global_step"] = GlobalStep,
            ["epoch"] = Epoch,
            ["step_in_epoch"] = StepInEpoch,
            ["seed"] = Seed,
            ["learning_rate"] = LearningRate,
            ["schedule"] = Schedule is null ? null : new JsonObject
            {
                ["kind"] = Schedule.Kind.ToString().ToLowerInvariant(),
                ["warmup_steps"] = Schedule.WarmupSteps,
                ["total_steps"] = Schedule.TotalSteps,
            },
            ["optimizer_step_count"] = OptimizerStepCount,
            ["metric_for_best_model"] = MetricForBest,
            ["greater_is_better"] = GreaterIsBetter,
            ["best_metric"] = BestMetric,
            ["best_model_checkpoint"] = BestCheckpoint,
            ["evaluations_without_improvement"] = EvaluationsWithoutImprovement,
            ["log_history"] = history,
            ["extra"] = extra,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Reads <c>trainer_state.json</c> text; <paramref name="source"/> names the file in errors.</summary>
    /// <exception cref="CheckpointException">Malformed JSON or a field of the wrong type (the message names it).</exception>
    public static TrainingState Parse(string json, string source)
    {
        static CheckpointException Error(string message, Exception inner) =>
            new CheckpointException(message, inner);
        JsonObject root = StrictJson.ParseNode(StrictJson.Encode(json, source, Error), source, Error) as JsonObject
                          ?? throw new CheckpointException($"{source}: the top level must be a JSON object.");
        var r = new FieldReader(root, source);
        var state = new TrainingState
        {
            GlobalStep = r.Long("global_step"),
            Epoch = (int)r.Long("epoch"),
            StepInEpoch = r.Long("step_in_epoch"),
            Seed = (int)r.Long("seed"),
            LearningRate = r.Double("learning_rate"),
            OptimizerStepCount = r.Long("optimizer_step_count"),
            MetricForBest = r.OptionalString("metric_for_best_model"),
            GreaterIsBetter = r.OptionalBool("greater_is_better") ?? true,
            BestMetric = r.OptionalDouble("best_metric"),
            BestCheckpoint = r.OptionalString("best_model_checkpoint"),
            EvaluationsWithoutImprovement = (int)(r.OptionalLong("evaluations_without_improvement") ?? 0),
        };
        if (root["schedule"] is JsonObject schedule)
        {
            var s = new FieldReader(schedule, source + " schedule");
            string kind = s.OptionalString("kind") ?? throw new CheckpointException($"{source}: schedule.kind is missing.");
            if (!Enum.TryParse<ScheduleKind>(kind, ignoreCase: true, out var k))
                throw new CheckpointException($"{source}: schedule.kind '{kind}' is not linear, cosine or constant.");
            state.Schedule = new LearningRateSchedule(k, s.Long("warmup_steps"), s.Long("total_steps"));
        }
        if (root["log_history"] is JsonArray history)
        {
            int i = 0;
            foreach (var node in history)
            {
                if (node is not JsonObject entry) throw new CheckpointException($"{source}: log_history[{i}] is not an object.");
                var e = new FieldReader(entry, $"{source} log_history[{i}]");
                var values = new SortedDictionary<string, double>(StringComparer.Ordinal);
                foreach (var (key, value) in entry)
                {
                    if (key is "step" or "epoch") continue;
                    values[key] = value switch
                    {
                        JsonValue v when v.TryGetValue<double>(out var d) => d,
                        JsonValue v when v.TryGetValue<string>(out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                        _ => throw new CheckpointException($"{source}: log_history[{i}].{key} is not a number."),
                    };
                }
                state.LogHistory.Add(new LogEntry(e.Long("step"), e.Double("epoch"), values));
                i++;
            }
        }
        if (root["extra"] is JsonObject extra)
            foreach (var (k, v) in extra) state.Extra[k] = v?.DeepClone();
        return state;
    }

    /// <summary>Typed access to fields with errors that name the file and field.</summary>
    private sealed class FieldReader(JsonObject obj, string source)
    {
        private JsonNode? Get(string key) => obj.TryGetPropertyValue(key, out var n) ? n : null;

        private CheckpointException Bad(string key, string expected) =>
            new($"{source}: '{key}' must be {expected}, got {Get(key)?.ToJsonString() ?? "nothing"}.");

        public long Long(string key) => OptionalLong(key) ?? throw Bad(key, "an integer");

        public long? OptionalLong(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<long>(out var l) => l,
            JsonValue v when v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
            _ => throw Bad(key, "an integer"),
        };

        public double Double(string key) => OptionalDouble(key) ?? throw Bad(key, "a number");

        public double? OptionalDouble(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var d) => d,
            _ => throw Bad(key, "a number"),
        };

        public string? OptionalString(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => throw Bad(key, "a string"),
        };

        public bool? OptionalBool(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw Bad(key, "true or false"),
        };
    }
}
