using TorchSharp;
using Xunit;
namespace DebertaSharp.Tests;
public class Smoke
{
    [Fact]
    public void TorchLoads()
    {
        using var t = torch.ones(2, 3);
        Assert.Equal(6.0f, t.sum().item<float>());
    }
}
