using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The <c>dtype</c> choices of <c>FromPretrained</c> beyond a concrete <see cref="ScalarType"/>: <c>null</c> keeps
/// float32 (as <c>from_pretrained</c> without <c>torch_dtype</c>), <see cref="Auto"/> takes the checkpoint's own type
/// (as <c>from_pretrained(torch_dtype="auto")</c>).
/// </summary>
public static class TorchDtype
{
    /// <summary>
    /// Pass as <c>dtype</c> to load in the type <c>config.json</c>'s <c>torch_dtype</c> names (<c>float16</c>,
    /// <c>bfloat16</c>, <c>float32</c>, <c>float64</c>); when it has none, the type of the checkpoint's first floating
    /// tensor. It is a marker value, not a real <see cref="ScalarType"/>: only <c>FromPretrained</c> understands it.
    /// </summary>
    public const ScalarType Auto = (ScalarType)(-1);

    /// <summary>The type <see cref="Auto"/> stands for with this config and checkpoint.</summary>
    /// <exception cref="DebertaConfigurationException"><c>torch_dtype</c> is not a floating type DebertaSharp loads.</exception>
    public static ScalarType Of(DebertaConfig config, CheckpointReader checkpoint)
    {
        switch (config.TorchDtype)
        {
            case "float32" or "float": return ScalarType.Float32;
            case "float16" or "half": return ScalarType.Float16;
            case "bfloat16": return ScalarType.BFloat16;
            case "float64" or "double": return ScalarType.Float64;
            case null or "auto":
                foreach (string key in checkpoint.Keys)
                {
                    var type = TensorDTypes.ToScalarType(checkpoint.GetEntry(key).DType);
                    if (is_floating_point(type)) return type;
                }
                return ScalarType.Float32;
            default:
                throw new DebertaConfigurationException(
                    $"config.json: torch_dtype '{config.TorchDtype}' is not one of float32, float16, bfloat16, float64; pass an explicit dtype instead of TorchDtype.Auto.");
        }
    }

    private static bool is_floating_point(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;
}
