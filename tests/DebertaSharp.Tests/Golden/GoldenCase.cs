using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.GoldenData;

/// <summary>One folder of reference data produced by HF transformers (see Fixtures/golden/README.txt).</summary>
public sealed class GoldenCase
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden");

    /// <summary>Every model case except the EMD folder (which needs the original-code semantics).</summary>
    public static IEnumerable<object[]> ModelCases() =>
        Directory.EnumerateFiles(Root, "expected.safetensors", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Root, Path.GetDirectoryName(p)!).Replace('\\', '/'))
            .Where(n => !n.StartsWith("emd", StringComparison.Ordinal))
            .OrderBy(n => n, StringComparer.Ordinal)
            .Select(n => new object[] { n });

    public GoldenCase(string name)
    {
        Name = name;
        Folder = Path.Combine(Root, name);
    }

    public string Name { get; }
    public string Folder { get; }

    public static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.Entries.ToDictionary(e => e.Name, e => file.Read(e.Name));
    }

    public Dictionary<string, Tensor> Inputs() => ReadAll(Path.Combine(Folder, "inputs.safetensors"));
    public Dictionary<string, Tensor> Expected() => ReadAll(Path.Combine(Folder, "expected.safetensors"));

    public static DebertaInputs ToInputs(Dictionary<string, Tensor> t) => DebertaInputs.FromNamedTensors(t);
}

/// <summary>Parity checks with the project's tolerance: max |Δ| ≤ 1e-5 × max(1, max |reference|) per tensor.</summary>
public static class Parity
{
    public const double RelativeTolerance = 1e-5;

    /// <summary>
    /// Max |Δ| between <paramref name="actual"/> and <paramref name="expected"/>, optionally only at rows where
    /// <paramref name="rowMask"/> [B, L] is 1 (dims 0 and <paramref name="rowDim"/>).
    /// </summary>
    /// <summary>
    /// Compares every forward-pass tensor of <paramref name="expected"/> (gradients and the SGD-step loss excepted)
    /// with <paramref name="actual"/>. Hidden states, token logits and attention query rows are compared only where
    /// the attention mask is 1: padded positions differ between HF versions (golden README).
    /// Returns (name, max|Δ|, limit) per tensor; a tensor missing from <paramref name="actual"/> throws.
    /// </summary>
    public static List<(string Name, double MaxDiff, double Limit)> CompareForward(
        IReadOnlyDictionary<string, Tensor> actual, Dictionary<string, Tensor> expected, Tensor attentionMask)
    {
        var rowMask = attentionMask.dim() == 3 ? attentionMask.reshape(-1, attentionMask.shape[2]) : attentionMask;  // MC: [B·C, L]
        var results = new List<(string, double, double)>();
        foreach (var (key, reference) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (key.StartsWith("grad.", StringComparison.Ordinal) || key == "loss_after_sgd_step") continue;
            if (!actual.TryGetValue(key, out var value))
                throw new Xunit.Sdk.XunitException($"output lacks '{key}'");
            bool perToken = key.StartsWith("hidden_states", StringComparison.Ordinal) || key == "last_hidden_state"
                            || (key == "logits" && reference.dim() == 3);
            bool perQuery = key.StartsWith("attentions", StringComparison.Ordinal);
            var (diff, limit) = Compare(value, reference, perToken || perQuery ? rowMask : null, perQuery ? 2 : 1);
            results.Add((key, diff, limit));
        }
        return results;
    }

    /// <summary>Fails unless <paramref name="actual"/> is within the parity tolerance of <paramref name="expected"/> (<see cref="Compare"/>).</summary>
    public static void AssertClose(Tensor actual, Tensor expected, string what = "tensor")
    {
        var (diff, limit) = Compare(actual, expected);
        if (!(diff <= limit)) throw new Xunit.Sdk.XunitException($"{what}: max|Δ| {diff:E3} > {limit:E3}");
    }

    public static (double MaxDiff, double Limit) Compare(Tensor actual, Tensor expected, Tensor? rowMask = null, int rowDim = 1)
    {
        using var scope = NewDisposeScope();
        if (!actual.shape.SequenceEqual(expected.shape))
            throw new Xunit.Sdk.XunitException($"shape [{string.Join(",", actual.shape)}] vs expected [{string.Join(",", expected.shape)}]");
        var a = actual.detach().to(ScalarType.Float64).cpu();
        var e = expected.to(ScalarType.Float64);
        var diff = (a - e).abs();
        var refAbs = e.abs();
        if (rowMask is not null)
        {
            // Broadcast the [B, L] mask to dims 0 and rowDim of the compared tensor.
            var shape = Enumerable.Repeat(1L, (int)diff.dim()).ToArray();
            shape[0] = rowMask.shape[0];
            shape[rowDim] = rowMask.shape[1];
            var m = rowMask.to(ScalarType.Float64).reshape(shape);
            diff = diff * m;
            refAbs = refAbs * m;
        }
        double maxDiff = diff.numel() == 0 ? 0 : diff.max().item<double>();
        double maxRef = refAbs.numel() == 0 ? 0 : refAbs.max().item<double>();
        return (maxDiff, RelativeTolerance * Math.Max(1.0, maxRef));
    }
}
