package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Causal multi-head self-attention on [b, t, width]: one fused projection to queries, keys and
 * values ([width, 3 width], columns q | k | v, each split into {@code heads} heads of width/heads),
 * {@code softmax(q k^T / sqrt(headWidth) + mask) v} per head with the mask -inf above the
 * diagonal (position i sees positions j <= i only), heads concatenated, output projection
 * [width, width]. Parameters: the fused projection's, then the output projection's.
 *
 * <p>The per-head products are libnd4j's batched {@code matmul} over [b * heads, t, .] and the
 * softmax its {@code softmax} along the last axis; the softmax's backward is written out
 * ({@code dS = P (dP - rowsum(dP P))}). Masked probabilities are exactly 0, so a position's output
 * does not depend on later positions at all, not even by rounding.
 */
public final class CausalSelfAttention extends CompositeLayer {
    private static final int[] NONE = {0, 0, 0};
    private static final int[] TRANSPOSE_SECOND = {0, 1, 0};
    private static final int[] TRANSPOSE_FIRST = {1, 0, 0};

    private final int width;
    private final int heads;
    private final int headWidth;
    private final Layer qkv;
    private final Layer projection;
    private final Map<String, INDArray> masks = new HashMap<>();
    private INDArray queriesKeysValues;
    private INDArray probs;
    private long batch;
    private long time;

    /**
     * @param initStd         standard deviation of the initial projection weights (GPT-2: 0.02)
     * @param residualInitStd that of the output projection, which feeds a residual sum (GPT-2: 0.02 / sqrt(2 depth))
     */
    public CausalSelfAttention(int width, int heads, double initStd, double residualInitStd) {
        this(width, heads, new Dense(width, 3 * width, initStd), new Dense(width, width, residualInitStd));
    }

    private CausalSelfAttention(int width, int heads, Layer qkv, Layer projection) {
        super(List.of(qkv, projection));
        if (heads < 1 || width % heads != 0) {
            throw new IllegalArgumentException("attention width " + width + " is not divisible by " + heads + " heads");
        }
        this.width = width;
        this.heads = heads;
        this.headWidth = width / heads;
        this.qkv = qkv;
        this.projection = projection;
    }

    /**
     * An attention layer over this one's projections passed through {@code adapter}: the fused one
     * as three equal parts "query", "key", "value", the output one as "output".
     */
    CausalSelfAttention withProjections(TransformerBlock.Adapter adapter) {
        return new CausalSelfAttention(width, heads, adapter.adapt((Dense) qkv, "query", "key", "value"),
                adapter.adapt((Dense) projection, "output"));
    }

    @Override
    public long[] outputShape(long[] s) {
        if (s.length != 2 || s[1] != width) {
            throw new IllegalArgumentException(describe() + " expects [time, " + width + "], got " + Arrays.toString(s));
        }
        return s;
    }

    @Override
    public long macsPerSample(long[] s) {
        long t = s[0];
        // projections, plus q k^T and P v over all t x t pairs (the masked half is computed too)
        return qkv.macsPerSample(s) + projection.macsPerSample(s) + 2 * t * t * width;
    }

    /** [t * t] row: 0 where j <= i, -inf above the diagonal. */
    private INDArray mask(DataType type, long t) {
        return masks.computeIfAbsent(type + "/" + t, k -> {
            INDArray m = Nd4j.zeros(type, t, t);
            for (long i = 0; i < t; i++) {
                m.get(NDArrayIndex.point(i), NDArrayIndex.interval(i + 1, t)).assign(Double.NEGATIVE_INFINITY);
            }
            return m.reshape('c', 1, t * t);
        });
    }

    /** Part {@code i} (0: q, 1: k, 2: v) of a [3, b, heads, t, headWidth] array as [b * heads, t, headWidth]. */
    private INDArray part(INDArray split, int i) {
        return split.get(NDArrayIndex.point(i)).reshape('c', batch * heads, time, headWidth);
    }

    private static void matmul(INDArray a, INDArray b, INDArray into, int[] transposes) {
        Ops.execInto("matmul", new INDArray[]{a, b}, new INDArray[]{into}, transposes);
    }

    @Override
    public INDArray forward(INDArray x) {
        batch = x.size(0);
        time = x.size(1);
        DataType type = x.dataType();
        long bh = batch * heads;
        INDArray fused = qkv.forward(x).reshape('c', batch, time, 3, heads, headWidth);
        queriesKeysValues = buffer("qkv", type, 3, batch, heads, time, headWidth).assign(fused.permute(2, 0, 3, 1, 4));
        INDArray q = part(queriesKeysValues, 0);
        INDArray k = part(queriesKeysValues, 1);
        INDArray v = part(queriesKeysValues, 2);

        INDArray scores = buffer("scores", type, bh, time, time);
        matmul(q, k, scores, TRANSPOSE_SECOND);
        scores.muli(1 / Math.sqrt(headWidth)).reshape('c', bh, time * time).addiRowVector(mask(type, time));
        probs = buffer("probs", type, bh, time, time);
        Ops.execInto("softmax", new INDArray[]{scores}, new INDArray[]{probs}, new int[]{2});

        INDArray context = buffer("context", type, bh, time, headWidth);
        matmul(probs, v, context, NONE);
        INDArray merged = buffer("merged", type, batch, time, width);
        merged.reshape('c', batch, time, heads, headWidth).assign(context.reshape('c', batch, heads, time, headWidth).permute(0, 2, 1, 3));
        return projection.forward(merged);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        DataType type = probs.dataType();
        long bh = batch * heads;
        INDArray gradMerged = projection.backward(gradOutput).reshape('c', batch, time, heads, headWidth);
        INDArray gradContext = buffer("gradContext", type, batch, heads, time, headWidth).assign(gradMerged.permute(0, 2, 1, 3))
                .reshape('c', bh, time, headWidth);
        INDArray q = part(queriesKeysValues, 0);
        INDArray k = part(queriesKeysValues, 1);
        INDArray v = part(queriesKeysValues, 2);
        INDArray gradSplit = buffer("gradQkv", type, 3, batch, heads, time, headWidth);

        matmul(probs, gradContext, part(gradSplit, 2), TRANSPOSE_FIRST); // dV = P^T dC
        INDArray gradProbs = buffer("gradProbs", type, bh, time, time);
        matmul(gradContext, v, gradProbs, TRANSPOSE_SECOND); // dP = dC V^T

        // softmax backward, then the 1/sqrt(headWidth) scale: dS = P (dP - rowsum(dP P)) / sqrt(headWidth)
        INDArray p2 = probs.reshape('c', bh * time, time);
        INDArray gp2 = gradProbs.reshape('c', bh * time, time);
        INDArray gradScores = buffer("gradScores", type, bh * time, time);
        INDArray rowSums = gradScores.assign(gp2).muli(p2).sum(true, 1);
        gradScores.assign(gp2).subiColumnVector(rowSums).muli(p2).muli(1 / Math.sqrt(headWidth));
        INDArray gs = gradScores.reshape('c', bh, time, time);
        matmul(gs, k, part(gradSplit, 0), NONE); // dQ = dS K
        matmul(gs, q, part(gradSplit, 1), TRANSPOSE_FIRST); // dK = dS^T Q

        INDArray gradFused = buffer("gradFused", type, batch, time, 3 * width);
        gradFused.reshape('c', batch, time, 3, heads, headWidth).assign(gradSplit.permute(1, 3, 0, 2, 4));
        return qkv.backward(gradFused, inputGradient);
    }

    @Override
    public void clearCache() {
        super.clearCache();
        queriesKeysValues = null;
        probs = null;
    }

    @Override
    public String describe() {
        return "attention" + width + "/" + heads;
    }
}
