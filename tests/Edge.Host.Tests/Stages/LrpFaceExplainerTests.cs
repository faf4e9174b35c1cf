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
    public async Task Explain_ExplainProjectionGuided_ExplainsWithTheGuidedProjection()
    {
        using var real = await RealFace.AstronautAsync();
        var happy = Expressions.IndexOf("happy");
        float[] Map(Edge.Onnx.Lrp.LrpProjection projection)
        {
            using var explainer = new LrpFaceExplainer(real.Environment, Microsoft.Extensions.Options.Options.Create(real.Options),
                Microsoft.Extensions.Options.Options.Create(new PipelineOptions { ExplainProjection = projection }));
            real.Face.ClearHeatmaps();
            explainer.Explain(real.Image.Rgb24, real.Image.Width, real.Image.Height, real.Face, happy);
            return real.Face.Heatmaps[0].Relevance.ToArray();
        }

        var direct = Map(Edge.Onnx.Lrp.LrpProjection.Direct);
        var guided = Map(Edge.Onnx.Lrp.LrpProjection.Guided);
        Assert.Equal(direct, Map(new PipelineOptions().ExplainProjection));
        Assert.NotEqual(direct, guided);
        Assert.InRange(Edge.Explain.Heatmaps.HeatmapCodec.Correlation(direct, guided), 0.8, 0.9999);
    }

    [Fact]
    public void Validate_ExplainProjectionOutOfRange_NamesTheKey()
    {
        var result = new PipelineOptionsValidator().Validate(null, new PipelineOptions { ExplainProjection = (Edge.Onnx.Lrp.LrpProjection)7 });
        Assert.True(result.Failed);
        Assert.Contains("Pipeline:ExplainProjection must be Direct or Guided (was 7)", result.FailureMessage, StringComparison.Ordinal);
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
