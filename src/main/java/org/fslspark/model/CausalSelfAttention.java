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
    /** oneDNN path: the fused projection [b, t, 3 width] the heads are read from (null on the ND4J path). */
    private INDArray fusedDnnl;
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

    /**
     * The mask repeated over [batch, heads, time, time], shared by all layers and read-only: added in
     * the scores' matmul as a post-op. oneDNN 2.5 runs that post-op in its fast matmul only for an
     * addend of the output's full shape; the [1, 1, t, t] broadcast falls back to its reference
     * implementation (0.7 ms against 1.7 s at batch 16, 4 heads, context 128).
     */
    private static INDArray fullMask(long batch, long heads, long time) {
        String key = batch + "x" + heads + "x" + time;
        INDArray m = FULL_MASKS.get(key);
        if (m == null) {
            if (FULL_MASKS.size() >= 8) {
                FULL_MASKS.clear();
            }
            INDArray one = Nd4j.zeros(DataType.FLOAT, time, time);
            for (long i = 0; i < time - 1; i++) {
                one.get(NDArrayIndex.point(i), NDArrayIndex.interval(i + 1, time)).assign(Double.NEGATIVE_INFINITY);
            }
            m = Nd4j.createUninitialized(DataType.FLOAT, new long[]{batch * heads, time * time}, 'c');
            m.assign(one.reshape('c', 1, time * time).broadcast(batch * heads, time * time));
            FULL_MASKS.put(key, m);
        }
        return m;
    }

    private static final Map<String, INDArray> FULL_MASKS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Part {@code i} (0: q, 1: k, 2: v) of a [3, b, heads, t, headWidth] array as [b * heads, t, headWidth]. */
    private INDArray part(INDArray split, int i) {
        return split.get(NDArrayIndex.point(i)).reshape('c', batch * heads, time, headWidth);
    }

    private static void matmul(INDArray a, INDArray b, INDArray into, int[] transposes) {
        Ops.execInto("matmul", new INDArray[]{a, b}, new INDArray[]{into}, transposes);
    }

    /** A [batch, time, 3 * width] array's part {@code i} (0: q, 1: k, 2: v) as [batch, heads, time, headWidth] strides. */
    private Dnnl.Layout headsOf(long rowStride) {
        return new Dnnl.Layout(new long[]{batch, heads, time, headWidth}, new long[]{time * rowStride, headWidth, rowStride, 1});
    }

    private static boolean dense(INDArray a) {
        return a.ordering() == 'c' && a.elementWiseStride() == 1;
    }

    @Override
    public INDArray forward(INDArray x) {
        batch = x.size(0);
        time = x.size(1);
        DataType type = x.dataType();
        long bh = batch * heads;
        INDArray projected = qkv.forward(x);
        if (Dnnl.usable(projected) && dense(projected)) {
            return forwardDnnl(projected);
        }
        fusedDnnl = null;
        INDArray fused = projected.reshape('c', batch, time, 3, heads, headWidth);
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

    /**
     * Attention on oneDNN, reading q, k and v in place from the fused projection [b, t, 3 width] (a
     * head is a strided view) and writing the heads' outputs straight into the merged [b, t, width]:
     * scores = q k^T / sqrt(headWidth) + mask in one matmul (scale and mask fused), softmax in place,
     * context = P v.
     */
    private INDArray forwardDnnl(INDArray fused) {
        DataType type = fused.dataType();
        long w3 = 3L * width;
        fusedDnnl = fused;
        Dnnl.Layout q = headsOf(w3);
        Dnnl.Layout scores = Dnnl.Layout.dense(batch, heads, time, time);
        probs = buffer("probs", type, batch, heads, time, time);
        long base = Dnnl.address(fused);
        long shift = 4L * width; // bytes from one part (q, k, v) of a row to the next
        Dnnl.matmul(q, q.transposeLast(), null, scores, (float) (1 / Math.sqrt(headWidth)), 0f, scores)
                .exec(base, base + shift, Dnnl.address(probs), Dnnl.address(fullMask(batch, heads, time)));
        Dnnl.softmax(scores, 3).exec(probs, probs);
        INDArray merged = buffer("merged", type, batch, time, width);
        Dnnl.matmul(scores, q, null, headsOf(width), 1f, 0f, null).exec(Dnnl.address(probs), base + 2 * shift, Dnnl.address(merged));
        return projection.forward(merged);
    }

    /**
     * The backward of {@link #forwardDnnl}: dV = P^T dC, dP = dC V^T, dS = softmax backward (in place),
     * dQ = dS K / sqrt(headWidth), dK = dS^T Q / sqrt(headWidth), each written into its part of the
     * fused gradient [b, t, 3 width]; transposes are strides.
     */
    private INDArray backwardDnnl(INDArray gradOutput, boolean inputGradient) {
        DataType type = probs.dataType();
        INDArray gradMerged = projection.backward(gradOutput);
        if (!dense(gradMerged)) {
            gradMerged = buffer("gradMerged", type, gradMerged.shape()).assign(gradMerged);
        }
        long w3 = 3L * width;
        Dnnl.Layout part = headsOf(w3);
        Dnnl.Layout context = headsOf(width);
        Dnnl.Layout scores = Dnnl.Layout.dense(batch, heads, time, time);
        INDArray gradFused = buffer("gradFused", type, batch, time, w3);
        INDArray gradProbs = buffer("gradProbs", type, batch, heads, time, time);
        long fused = Dnnl.address(fusedDnnl);
        long grad = Dnnl.address(gradFused);
        long shift = 4L * width;
        long p = Dnnl.address(probs);
        long dP = Dnnl.address(gradProbs);
        long dC = Dnnl.address(gradMerged);
        float scale = (float) (1 / Math.sqrt(headWidth));
        Dnnl.matmul(scores.transposeLast(), context, null, part, 1f, 0f, null).exec(p, dC, grad + 2 * shift); // dV
        Dnnl.matmul(context, part.transposeLast(), null, scores, 1f, 0f, null).exec(dC, fused + 2 * shift, dP); // dP
        Dnnl.softmaxBackward(scores, 3).exec(p, dP, dP); // dS, in place
        Dnnl.matmul(scores, part, null, part, scale, 0f, null).exec(dP, fused + shift, grad); // dQ = dS K
        Dnnl.matmul(scores.transposeLast(), part, null, part, scale, 0f, null).exec(dP, fused, grad + shift); // dK = dS^T Q
        return qkv.backward(gradFused, inputGradient);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        if (fusedDnnl != null) {
            return backwardDnnl(gradOutput, inputGradient);
        }
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
        fusedDnnl = null;
    }

    @Override
    public String describe() {
        return "attention" + width + "/" + heads;
    }
}
