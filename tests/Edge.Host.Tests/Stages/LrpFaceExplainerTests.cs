using Edge.Explain;
using Edge.Explain.Faces;
using Edge.Host.Commands;
using Edge.Host.Options;
using Edge.Host.Stages;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Options;

namespace Edge.Host.Tests.Stages;

public sealed class LrpFaceExplainerTests
{
    [Fact]
    public async Task Explain_SameFaceFrameAfterFrame_ReusesTheFacesMapAndAllocatesNoMap()
    {
        using var real = await RealFace.AstronautAsync();
        var (image, face) = (real.Image, real.Face);
        using var explainer = new LrpFaceExplainer(real.Environment, Microsoft.Extensions.Options.Options.Create(real.Options), Microsoft.Extensions.Options.Options.Create(new PipelineOptions()));
        var happy = Expressions.IndexOf("happy");

        explainer.Explain(image.Rgb24, image.Width, image.Height, face, happy);
        var first = face.Heatmaps[0].Relevance;
        var expected = first.ToArray();
        Assert.Contains(expected, v => v > 0);

        long allocated = 0;
        const int Frames = 20;
        for (var i = 0; i < Frames; i++)
        {
            face.ClearHeatmaps();
            var before = GC.GetAllocatedBytesForCurrentThread();
            explainer.Explain(image.Rgb24, image.Width, image.Height, face, happy);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Same(first, face.Heatmaps[0].Relevance);
        }

        Assert.Equal(expected, face.Heatmaps[0].Relevance); // the reused array holds this frame's map, not a stale one
        Assert.True(allocated / Frames < 1024, $"{allocated / Frames} B per explained face (a 64×64 map is 16 KB)");
    }

    [Fact]
    public void RentMap_OtherLengthOrNothingCleared_GivesANewArray()
    {
        var face = new FaceResult();
        var small = face.RentMap(4);
        face.Heatmaps.Add(new Heatmap("happy", 2, 2, small));
        face.ClearHeatmaps();
        Assert.Empty(face.Heatmaps);
        var other = face.RentMap(16);
        Assert.NotSame(small, other);
        Assert.Equal(16, other.Length);
        Assert.NotSame(other, face.RentMap(16));
    }
}
