using Edge.Explain;

namespace Edge.Host.Pipeline;

/// <summary>
/// Follows faces across frames by box overlap (greedy, highest IoU first) so time-based flag rules apply to
/// one person. Tracks unseen for the timeout end. Not thread-safe: the pipeline's single loop owns it.
/// </summary>
public sealed class FaceTracker(double minIou, TimeSpan timeout, int ruleCount)
{
    private readonly List<Track> _tracks = [];
    private readonly List<(double Iou, int Face, int Track)> _pairs = [];
    private long _nextId = 1;

    public int Count => _tracks.Count;

    /// <summary>Assigns a track to every face (same order as <paramref name="faces"/>), creating tracks for new faces.</summary>
    public void Assign(IReadOnlyList<FaceResult> faces, DateTimeOffset now, List<Track> assigned)
    {
        _tracks.RemoveAll(t => now - t.LastSeen > timeout);
        assigned.Clear();
        for (var i = 0; i < faces.Count; i++)
        {
            assigned.Add(null!);
        }

        _pairs.Clear();
        for (var f = 0; f < faces.Count; f++)
        {
            for (var t = 0; t < _tracks.Count; t++)
            {
                var iou = Iou(faces[f].Box, _tracks[t].Box);
                if (iou >= minIou)
                {
                    _pairs.Add((iou, f, t));
                }
            }
        }

        _pairs.Sort((a, b) => b.Iou.CompareTo(a.Iou));
        Span<bool> trackTaken = _tracks.Count <= 64 ? stackalloc bool[_tracks.Count] : new bool[_tracks.Count];
        foreach (var (_, f, t) in _pairs)
        {
            if (assigned[f] is null && !trackTaken[t])
            {
                trackTaken[t] = true;
                assigned[f] = _tracks[t];
            }
        }

        for (var f = 0; f < faces.Count; f++)
        {
            if (assigned[f] is null)
            {
                var track = new Track(_nextId++, ruleCount);
                _tracks.Add(track);
                assigned[f] = track;
            }

            assigned[f].Box = faces[f].Box;
            assigned[f].LastSeen = now;
        }

    }

    public static double Iou(FaceBox a, FaceBox b)
    {
        var ix = Math.Max(0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1));
        var iy = Math.Max(0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1));
        var inter = (double)ix * iy;
        var union = ((double)a.Width * a.Height) + ((double)b.Width * b.Height) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    public sealed class Track(long id, int ruleCount)
    {
        public long Id { get; } = id;

        public FaceBox Box { get; internal set; }

        public DateTimeOffset LastSeen { get; internal set; }

        /// <summary>Per rule: since when its condition has held on this face (null: it does not hold now).</summary>
        public DateTimeOffset?[] HoldingSince { get; } = new DateTimeOffset?[ruleCount];
    }
}
