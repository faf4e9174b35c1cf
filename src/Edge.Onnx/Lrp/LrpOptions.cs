namespace Edge.Onnx.Lrp;

/// <summary>The LRP rule used for a convolution that is neither the input layer nor a top layer.</summary>
public enum LrpConvRule
{
    /// <summary>z⁺: only positive contributions (a⁺w⁺ and a⁻w⁻) count.</summary>
    ZPlus,

    /// <summary>γ: weights ρ(w) = w + γ·w⁺ (and w + γ·w⁻ for negative inputs); γ from <see cref="LrpOptions.Gamma"/>.</summary>
    Gamma,

    /// <summary>ε: the plain gradient×input-like rule with a stabiliser ε.</summary>
    Epsilon,
}

/// <summary>How relevance goes back through a max-pool.</summary>
public enum LrpMaxPoolRule
{
    /// <summary>All relevance of an output goes to the input that won the max.</summary>
    Winner,

    /// <summary>Relevance is shared over the window in proportion to each input (sum-pool z-rule).</summary>
    Z,
}

/// <summary>How a residual Add (two activations) splits its relevance.</summary>
public enum LrpAddRule
{
    /// <summary>R_a = a / (a + b) · R: the z-rule; branches of opposite sign can receive large opposite shares.</summary>
    Signed,

    /// <summary>R_a = |a| / (|a| + |b|) · R: shares in [0, 1], conservative, no amplification.</summary>
    Absolute,
}

/// <summary>Full LRP down to the pixels, or the cheap kiosk variant that stops at an intermediate layer.</summary>
public enum LrpMode
{
    Full,

    /// <summary>
    /// Exact rules down to <see cref="LrpOptions.StopAt"/>, then the relevance is summed over channels and
    /// projected to pixels by <see cref="LrpOptions.Projection"/> (one step through fixed path weights, or a guided
    /// step per layer), with the input layer's own z^B rule at the end.
    /// </summary>
    Reduced,
}

/// <summary>How reduced mode carries the channel-summed relevance from <see cref="LrpOptions.StopAt"/> down to the input layer.</summary>
public enum LrpProjection
{
    /// <summary>
    /// One z-rule step from the stop to the input layer's output y (the kiosk's): each stop unit shares its relevance
    /// over y's positions in proportion to a · P, with a = Σ_c max(y_c, 0) and P the unit's path weight (every window on
    /// the way shared equally, each residual Add halved), fixed at compile time; y's channels then get a's shares.
    /// </summary>
    Direct,

    /// <summary>
    /// A z-rule step at every layer on the way, on that layer's channel-summed positive activation Σ_c max(x_c, 0),
    /// with residual Adds split by the <see cref="LrpOptions.AddRule"/> on channel sums: closer to full LRP, and it
    /// reads every activation on the way (about twice Direct's cost on the kiosk model).
    /// </summary>
    Guided,
}

/// <summary>
/// What the compiler does. The rule defaults are the kiosk's (z⁺ convolutions, |a|-proportional residual split, winner
/// max-pool, z^B at the input): on the real face set they are the most faithful of the rule sets tried (occlusion AOPC,
/// src/Edge.Explain/README.md). <see cref="Mode"/> defaults to full LRP; the kiosk asks for <see cref="LrpMode.Reduced"/>.
/// </summary>
public sealed record LrpOptions
{
    public LrpMode Mode { get; init; } = LrpMode.Full;

    public LrpConvRule ConvRule { get; init; } = LrpConvRule.ZPlus;

    /// <summary>γ of the γ rule; 0 gives the ε-free basic rule, large values approach z⁺. Default 0.25.</summary>
    public float Gamma { get; init; } = 0.25f;

    /// <summary>
    /// ε of the ε rule (dense and top layers), also the stabiliser of every denominator that can change sign
    /// (γ rule, residual Add, z-rule pooling), which bounds the amplification near zero. Default 0.01.
    /// </summary>
    public float Epsilon { get; init; } = 0.01f;

    /// <summary>
    /// Added to the non-negative denominators (z⁺, z^B, global mean) so that 0/0 gives 0, and in the guided projection
    /// to each pixel's channel-summed activation (no window sums to 0; an all-zero window passes its map on evenly).
    /// Default 1e-9.
    /// </summary>
    public float Stabilizer { get; init; } = 1e-9f;

    public LrpMaxPoolRule MaxPoolRule { get; init; } = LrpMaxPoolRule.Winner;

    /// <summary>
    /// Reduced mode: a pointwise (1×1, stride 1) z⁺/γ convolution with more output channels than this explains only the
    /// output channels carrying the most relevance (TopK of Σ|R| per channel, over all K maps); the rest of its relevance
    /// is dropped. The wide pointwise layers are most of the reduced pass's arithmetic, and relevance is concentrated in few
    /// channels (on 39 real faces, stopping at the first residual Add on one branch, 32 of 256 keep the correlation with full
    /// LRP at 0.938 mean, 0.897 min, against 0.947 and 0.893 exact; at the default stop, the last residual Add, the exact part
    /// has no pointwise convolution). Each of the K maps chooses its own channels. Applies when the maps per run are fixed
    /// (<see cref="Maps"/>); null explains every channel; ignored in full mode. Default 32.
    /// </summary>
    public int? ChannelBudget { get; init; } = 32;

    public LrpAddRule AddRule { get; init; } = LrpAddRule.Absolute;

    /// <summary>
    /// Use the z^B rule (with <see cref="InputLow"/>/<see cref="InputHigh"/>) for the convolution that reads the
    /// input (default true); false gives it the same rule as the other convolutions (with ConvRule = Epsilon,
    /// ε → 0, signed Add and the winner max-pool that is exactly gradient × input).
    /// </summary>
    public bool InputBounds { get; init; } = true;

    /// <summary>Lower bound of every input value, for the z^B rule of the first layer (preprocessing: [−1, 1]).</summary>
    public float InputLow { get; init; } = -1f;

    /// <summary>Upper bound of every input value, for the z^B rule of the first layer.</summary>
    public float InputHigh { get; init; } = 1f;

    /// <summary>
    /// Reduced mode: the tensor at which exact LRP stops. Null picks the output of the last residual Add (the end of the
    /// last block: on the kiosk model exact LRP then runs only through the top convolution; with both residual branches
    /// projected this matches the correlation of stopping one block earlier at half the cost), or the middle
    /// convolution where the graph has no Add.
    /// </summary>
    public string? StopAt { get; init; }

    /// <summary>
    /// Reduced mode: how the relevance at the stop reaches the input layer (default <see cref="LrpProjection.Direct"/>;
    /// on the 39 real faces r with full LRP 0.916 fp32 / 0.909 int8 mean at 1.26× / 1.46× the scoring run, against
    /// Guided's 0.940 / 0.933 at 1.57× / 2.1×; src/Edge.Explain/README.md). 1×1 stride-1 steps are identities in both; 1×1 strided ones put the map back
    /// on their stride grid.
    /// </summary>
    public LrpProjection Projection { get; init; } = LrpProjection.Direct;

    /// <summary>
    /// Reduced mode: a residual Add on the projection path shares the map over both branches (Guided: by the
    /// <see cref="AddRule"/> on channel sums, Σ_c |a_c| against Σ_c |b_c| for the absolute rule; Direct: half each), and
    /// a 1×1 strided shortcut puts its map back on its stride grid; false sends the whole map down the Add's first input
    /// (Guided on the 39 real faces, stopping at the last Add: r with full LRP 0.940 mean against 0.844). Default true.
    /// </summary>
    public bool ProjectBothBranches { get; init; } = true;

    /// <summary>
    /// Reduced mode: project through stride-1 windows that keep the size (the 3×3 depthwise convolutions) like any
    /// other (default true); false leaves the map where it is at those steps, which skips reading their activations
    /// (cheaper; on the 39 real faces r 0.930 mean / 0.870 min against 0.940 / 0.895).
    /// </summary>
    public bool ProjectStrideOneWindows { get; init; } = true;

    /// <summary>
    /// Maps per run (K) fixed in the graph, so that every shape is static (ONNX Runtime plans memory and picks
    /// kernels once); null leaves K symbolic. Default null.
    /// </summary>
    public int? Maps { get; init; }
}
