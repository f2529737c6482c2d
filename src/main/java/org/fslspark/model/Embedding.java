package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.Random;

/**
 * Token embedding plus learned position embedding, the input layer of a GPT: token ids [b, t]
 * (stored as floats, exact up to 2^24, so that a language-model batch is an ordinary feature
 * array) to activations [b, t, width], {@code y[n, i] = token[id[n, i]] + position[i]}. Sequences
 * may be shorter than the context (a prompt when generating), never longer.
 *
 * <p>Parameters: the token table [vocab, width], then the position table [context, width]. The
 * lookup is libnd4j's {@code gather}; the token table's gradient is its {@code scatter_add}, run
 * with {@code lock = true} because with the default ({@code false}) it adds rows in parallel and
 * loses updates when an id repeats in a batch (found with 200,000 rows over 4 ids: up to 3% of the
 * additions were missing; the layer's repeated-ids test covers it). Token ids have no gradient:
 * this layer can only be a network's first.
 */
public final class Embedding extends Layer {
    /** GPT-2's standard deviation for embeddings. */
    private static final double INIT_STD = 0.02;

    private final int vocab;
    private final int context;
    private final int width;
    private INDArray tokens;
    private INDArray tokenGrad;
    private INDArray ids;
    /** Java path: the batch's token ids, row by row. */
    private int[] rowIds;
    private long batch;
    private long time;

    public Embedding(int vocab, int context, int width) {
        this.vocab = vocab;
        this.context = context;
        this.width = width;
    }

    @Override
    public long numParams() {
        return ((long) vocab + context) * width;
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long n = (long) vocab * width;
        tokens = Views.slice(paramView, 0, n, vocab, width);
        tokenGrad = Views.slice(gradView, 0, n, vocab, width);
    }

    @Override
    void initialize(Random rng) {
        normal(params, INIT_STD, rng);
    }

    /** Rows 0..time-1 of the position table (or its gradient) as one [1, time * width] row. */
    private INDArray positions(INDArray flat, long time) {
        return Views.slice(flat, (long) vocab * width, time * width, 1, time * width);
    }

    @Override
    public long[] outputShape(long[] s) {
        if (s.length != 1 || s[0] < 1 || s[0] > context) {
            throw new IllegalArgumentException(describe() + " expects token ids [time] with 1 <= time <= " + context
                    + ", got " + Arrays.toString(s));
        }
        return new long[]{s[0], width};
    }

    @Override
    public INDArray forward(INDArray x) {
        if (x.rank() != 2) {
            throw new IllegalArgumentException(describe() + " expects token ids [batch, time], got " + Arrays.toString(x.shape()));
        }
        outputShape(new long[]{x.size(1)});
        if (Dnnl.usable(x, params) && Dnnl.dense(x)) {
            return forwardRows(x);
        }
        rowIds = null;
        double min = x.minNumber().doubleValue();
        double max = x.maxNumber().doubleValue();
        if (min < 0 || max >= vocab) {
            throw new IllegalArgumentException("token id " + (long) (min < 0 ? min : max) + " outside [0, " + vocab + ")");
        }
        batch = x.size(0);
        time = x.size(1);
        ids = x.reshape('c', new long[]{batch * time}).castTo(DataType.INT); // reshape('c', n) would mean shape [99, n]
        INDArray y = buffer("out", tokens.dataType(), batch * time, width);
        Ops.execInto("gather", new INDArray[]{tokens, ids}, new INDArray[]{y}, new int[]{0});
        y.reshape('c', batch, time * width).addiRowVector(positions(params, time));
        return y.reshape('c', batch, time, width);
    }

    /**
     * The lookup as row copies in Java (float): ids checked and converted in one pass, then each output
     * row is its token's row plus its position's, written into the reused output buffer. libnd4j's path
     * (two reductions to check the ids, a cast to a fresh int array, gather, a broadcast add) cost
     * more in op overhead and allocations than the copying itself.
     */
    private INDArray forwardRows(INDArray x) {
        batch = x.size(0);
        time = x.size(1);
        int rows = (int) (batch * time);
        java.nio.FloatBuffer in = x.data().asNioFloat();
        int inOff = (int) x.offset();
        if (rowIds == null || rowIds.length != rows) {
            rowIds = new int[rows];
        }
        for (int r = 0; r < rows; r++) {
            float v = in.get(inOff + r);
            if (!(v >= 0 && v < vocab)) {
                throw new IllegalArgumentException("token id " + (long) v + " outside [0, " + vocab + ")");
            }
            rowIds[r] = (int) v;
        }
        INDArray y = buffer("out", tokens.dataType(), batch * time, width);
        java.nio.FloatBuffer table = params.data().asNioFloat();
        java.nio.FloatBuffer out = y.data().asNioFloat();
        int tableOff = (int) params.offset();
        int posOff = tableOff + vocab * width;
        int outOff = (int) y.offset();
        float[] token = new float[width];
        float[] position = new float[width];
        for (int r = 0; r < rows; r++) {
            table.get(tableOff + rowIds[r] * width, token);
            table.get(posOff + (int) (r % time) * width, position);
            for (int j = 0; j < width; j++) {
                token[j] += position[j];
            }
            out.put(outOff + r * width, token);
        }
        return y.reshape('c', batch, time, width);
    }

    /** Gradient rows added to their token's and position's rows in order (repeated ids add up exactly). */
    private void backwardRows(INDArray gradOutput) {
        INDArray g2 = gradOutput.reshape('c', batch * time, width);
        if (!Dnnl.dense(g2)) {
            g2 = g2.dup('c');
        }
        java.nio.FloatBuffer g = g2.data().asNioFloat();
        java.nio.FloatBuffer table = grads.data().asNioFloat();
        int gOff = (int) g2.offset();
        int tableOff = (int) grads.offset();
        int posOff = tableOff + vocab * width;
        float[] row = new float[width];
        float[] acc = new float[width];
        for (int r = 0; r < rowIds.length; r++) {
            g.get(gOff + r * width, row);
            int t = tableOff + rowIds[r] * width;
            table.get(t, acc);
            for (int j = 0; j < width; j++) {
                acc[j] += row[j];
            }
            table.put(t, acc);
            int p = posOff + (int) (r % time) * width;
            table.get(p, acc);
            for (int j = 0; j < width; j++) {
                acc[j] += row[j];
            }
            table.put(p, acc);
        }
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        if (frozen()) {
            return null; // token ids have no gradient, and a frozen table needs none
        }
        if (rowIds != null && Dnnl.usable(gradOutput, grads)) {
            backwardRows(gradOutput);
            return null;
        }
        INDArray g = gradOutput.reshape('c', batch * time, width);
        // bArgs: lock (serial over ids, see the class comment), checkIndices
        Ops.execInto("scatter_add", new INDArray[]{tokenGrad, ids, g}, new INDArray[]{tokenGrad},
                new boolean[]{true, false}, new int[0]);
        positions(grads, time).addi(gradOutput.reshape('c', batch, time * width).sum(true, 0));
        return null;
    }

    @Override
    public void clearCache() {
        ids = null;
        rowIds = null;
    }

    @Override
    public String describe() {
        return "embed" + vocab + "x" + width + "+pos" + context;
    }
}
