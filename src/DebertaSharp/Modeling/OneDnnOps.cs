using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// oneDNN's inner product on plain (dense, row-major) tensors, through libtorch's <c>mkldnn::_linear_pointwise</c>
/// operator: the one PyTorch's own CPU compiler emits for float32 linear layers. It reads the input and the [out, in]
/// weight where they are and writes a dense output, so unlike <c>aten::mkldnn_linear</c> it neither copies the input
/// into an oneDNN tensor and the output back, nor reorders the weight into a blocked layout on every call (which cost
/// 1.3–1.6 ms per deberta-v3-base weight on a Zen 5 core, measured with <c>ONEDNN_VERBOSE</c>); it can also apply the
/// exact GELU to the product in the same pass.
/// </summary>
/// <remarks>
/// The operator lives in the <c>mkldnn::</c> namespace, which <c>torch.jit.compile</c> cannot name (its resolver knows
/// <c>torch.</c> = <c>aten::</c> only). A TorchScript archive can: <see cref="Archive"/> writes one in memory, a module
/// with no state and fixed methods, and <c>torch.jit.load</c> reads it once per process. The source is a constant, so
/// the TorchScript compiler (whose errors end the process) only ever sees code the tests have loaded. The operator
/// exists in every libtorch built with oneDNN (x86-64's CPU and CUDA builds); <see cref="IsAvailable"/> says whether
/// this process uses it.
/// </remarks>
internal static class OneDnnOps
{
    private const string ArchiveName = "debertasharp_onednn";

    // One class, no attributes but the training flag every module has; the methods call the mkldnn operators.
    // Scalars are the unary fusion's parameters (none for "none" and "gelu"); "none" as the algorithm is the erf GELU.
    private const string Source = """
        class OneDnnOps(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def forward(self: __torch__.OneDnnOps, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "none", annotate(List[Optional[number]], []), "")
          def linear_gelu(self: __torch__.OneDnnOps, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "gelu", annotate(List[Optional[number]], []), "none")
          def pack(self: __torch__.OneDnnOps, w: Tensor, rows: int) -> Tensor:
            return ops.mkldnn._reorder_linear_weight(w, rows)

        """;

    private static readonly Lazy<jit.ScriptModule> Module = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Whether these operators are used in this process: on x86-64, whose libtorch builds (CPU and CUDA, Linux and
    /// Windows) all include oneDNN. Elsewhere callers take libtorch's <c>linear</c>.
    /// </summary>
    public static bool IsAvailable { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>
    /// x·Wᵀ + b, then the exact GELU if <paramref name="gelu"/>. <paramref name="rows"/> is a contiguous float32
    /// [rows, in] CPU tensor, <paramref name="weight"/> [out, in] and <paramref name="bias"/> [out] likewise; the caller
    /// has checked them. Records no autograd history; the result is in the caller's dispose scope.
    /// </summary>
    public static Tensor Linear(Tensor rows, Tensor weight, Tensor? bias, bool gelu) =>
        (Tensor)Module.Value.invoke(gelu ? "linear_gelu" : "forward", rows, weight, bias);

    /// <summary>
    /// <paramref name="weight"/> [out, in] (contiguous float32 CPU) in the blocked layout oneDNN's inner product reads
    /// (an oneDNN tensor), laid out for products of <see cref="PackRows"/> rows; <see cref="Linear"/> takes it in place of
    /// the plain weight for any row count, without reordering it per call.
    /// </summary>
    public static Tensor Pack(Tensor weight) => (Tensor)Module.Value.invoke("pack", weight, PackRows);

    /// <summary>
    /// The row count packed weights are laid out for: one deberta-v3-base batch of 8×128 tokens. The layout (measured
    /// with <c>ONEDNN_VERBOSE</c>: AB16b64a, brgemm) was the same kernel for 1 to 2048 rows on a Zen 5.
    /// </summary>
    public const long PackRows = 1024;

    /// <summary>
    /// The TorchScript archive: a zip with one folder holding the pickled module object (<c>data.pkl</c>), its class's
    /// source (<c>code/__torch__.py</c>), an empty constants table and the format version. Entries are stored, not
    /// compressed, as torch writes them.
    /// </summary>
    internal static byte[] Archive()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "data.pkl", ModulePickle());
            Add(zip, "code/__torch__.py", Encoding.UTF8.GetBytes(Source));
            Add(zip, "constants.pkl", [0x80, 0x02, (byte)')', (byte)'.']);        // protocol 2, empty tuple, stop
            Add(zip, "version", Encoding.ASCII.GetBytes("10\n"));
        }
        return buffer.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] data)
    {
        var entry = zip.CreateEntry($"{ArchiveName}/{name}", CompressionLevel.NoCompression);
        using var stream = entry.Open();
        stream.Write(data);
    }

    // pickle protocol 2: __torch__.OneDnnOps() with its state {"training": True}.
    private static byte[] ModulePickle()
    {
        using var pickle = new MemoryStream();
        pickle.Write([0x80, 0x02]);                                                // PROTO 2
        pickle.Write(Encoding.ASCII.GetBytes("c__torch__\nOneDnnOps\n"));         // GLOBAL __torch__.OneDnnOps
        pickle.Write([(byte)')', 0x81, (byte)'}']);                                // EMPTY_TUPLE, NEWOBJ, EMPTY_DICT
        byte[] key = Encoding.ASCII.GetBytes("training");
        pickle.Write([(byte)'X', (byte)key.Length, 0, 0, 0]);                      // BINUNICODE "training"
        pickle.Write(key);
        pickle.Write([0x88, (byte)'s', (byte)'b', (byte)'.']);                     // NEWTRUE, SETITEM, BUILD, STOP
        return pickle.ToArray();
    }

    private static jit.ScriptModule Load()
    {
        var module = jit.load(Archive(), CPU);
        module.eval();
        // The graph executor profiles a method's first calls: do that here on tiny operands, not in a timed call.
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var x = ones(2, 3);
        var w = ones(4, 3);
        var b = zeros(4);
        for (int i = 0; i < 3; i++)
        {
            module.invoke("forward", x, w, b);
            module.invoke("forward", x, w, null!);
            module.invoke("linear_gelu", x, w, b);
            module.invoke("forward", x, (Tensor)module.invoke("pack", w, 2L), b);
        }
        return module;
    }
}
