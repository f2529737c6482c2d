package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_exp;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_linear;

/**
 * Softmax cross-entropy averaged over the rows of a batch: logits [n, classes], or [b, t, vocab]
 * for a language model, where every position is a row and the targets are the next tokens,
 * {@code labels[i * t + j]} for sample i and position j (sample-major, as the logits are laid out).
 * The mean is over all rows, i.e. over all tokens of a sequence batch. The gradient is that of the
 * mean loss, i.e. the per-row gradient divided by n, which is what a server returns for a minibatch.
 *
 * <p>The targets are never expanded to a one-hot matrix (a [b * t, vocab] array as large as the
 * logits): the target log-probabilities are gathered, and 1 is subtracted at the targets in place.
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    /** Loss summed over rows, the logits' gradient of the mean loss, and the number of correct argmax predictions. */
    public record Result(double lossSum, long rows, long correct, INDArray gradient) {
        public double meanLoss() {
            return lossSum / rows;
        }
    }

    public static Result evaluate(INDArray logits, int[] labels, boolean withGradient) {
        if (withGradient && Dnnl.usable(logits) && dense(logits)) {
            return evaluate(logits, labels, Nd4j.createUninitialized(logits.dataType(), logits.shape(), 'c'));
        }
        if (!withGradient && Dnnl.usable(logits) && dense(logits)) {
            return evaluateDnnl(logits, labels, null);
        }
        long classes = logits.size(logits.rank() - 1);
        INDArray z = logits.rank() == 2 ? logits : logits.reshape('c', logits.length() / classes, classes);
        int n = (int) z.size(0);
        checkLabels(labels, n, classes);
        long[] targets = new long[n]; // flat indices of the targets in the [n * classes] logits
        for (int i = 0; i < n; i++) {
            targets[i] = i * classes + labels[i];
        }
        INDArray targetIndex = Nd4j.createFromArray(targets);
        INDArray logProbs = Ops.exec1("log_softmax", new INDArray[]{z}, new int[]{1});
        INDArray flat = logProbs.reshape('c', new long[]{n * classes}); // reshape('c', n) would mean shape [99, n]
        double lossSum = -Ops.exec1("gather", new INDArray[]{flat, targetIndex}, new int[]{0}).sumNumber().doubleValue();
        int[] predicted = logProbs.argMax(1).toIntVector();
        long correct = 0;
        for (int i = 0; i < n; i++) {
            if (predicted[i] == labels[i]) {
                correct++;
            }
        }
        INDArray gradient = null;
        if (withGradient) {
            Transforms.exp(flat, false); // now the probabilities; the targets are distinct, so no lock is needed
            Ops.execInto("scatter_sub", new INDArray[]{flat, targetIndex, Nd4j.ones(flat.dataType(), n)},
                    new INDArray[]{flat}, new int[0]);
            gradient = logProbs.divi(n);
            if (logits.rank() != 2) {
                gradient = gradient.reshape('c', logits.shape());
            }
        }
        return new Result(lossSum, n, correct, gradient);
    }

    /**
     * As {@link #evaluate(INDArray, int[], boolean)} with the gradient written into {@code gradient}
     * (the logits' shape; it may be the logits themselves, which are then overwritten) instead of a
     * fresh array: a fresh off-heap array costs far more here than the arithmetic (about 5 ms per
     * MB in page faults on these VMs, against 0.04 ms per MB to write into a reused one). Returns a
     * result whose gradient is {@code gradient}.
     */
    public static Result evaluate(INDArray logits, int[] labels, INDArray gradient) {
        if (!java.util.Arrays.equals(logits.shape(), gradient.shape())) {
            throw new IllegalArgumentException("gradient " + java.util.Arrays.toString(gradient.shape()) + " for logits "
                    + java.util.Arrays.toString(logits.shape()));
        }
        if (Dnnl.usable(logits, gradient) && dense(logits) && dense(gradient)) {
            return evaluateDnnl(logits, labels, gradient);
        }
        Result r = evaluate(logits, labels, true);
        gradient.assign(r.gradient());
        return new Result(r.lossSum(), r.rows(), r.correct(), gradient);
    }

    private static boolean dense(INDArray a) {
        return a.ordering() == 'c' && a.elementWiseStride() == 1;
    }

    private static void checkLabels(int[] labels, int n, long classes) {
        if (labels.length != n) {
            throw new IllegalArgumentException("got " + labels.length + " labels for " + n + " rows of logits");
        }
        for (int label : labels) {
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("label " + label + " outside [0, " + classes + ")");
            }
        }
    }

    /** Per-thread scratch for the log-probabilities when no gradient is wanted (evaluation). */
    private static final ThreadLocal<INDArray[]> SCRATCH = ThreadLocal.withInitial(() -> new INDArray[1]);

    /**
     * oneDNN's log-softmax into the gradient's memory (or a per-thread scratch), the loss and argmax
     * read from it in Java, then in place {@code exp(logp - log n)} (two eltwise passes) and
     * {@code -1/n} at the targets: no fresh array, three passes over [n, classes] in all.
     */
    private static Result evaluateDnnl(INDArray logits, int[] labels, INDArray gradient) {
        long classes = logits.size(logits.rank() - 1);
        int n = (int) (logits.length() / classes);
        checkLabels(labels, n, classes);
        INDArray logProbs = gradient;
        if (logProbs == null) {
            INDArray[] scratch = SCRATCH.get();
            if (scratch[0] == null || scratch[0].length() < logits.length()) {
                scratch[0] = Nd4j.createUninitialized(DataType.FLOAT, new long[]{Math.max(logits.length(), 1L << 16)}, 'c');
            }
            logProbs = scratch[0];
        }
        Dnnl.Layout rows = Dnnl.Layout.dense(n, classes);
        Dnnl.logSoftmax(rows, 1).exec(Dnnl.address(logits), Dnnl.address(logProbs));
        java.nio.FloatBuffer lp = logProbs.data().asNioFloat();
        int base = (int) logProbs.offset();
        int c = (int) classes;
        double lossSum = 0;
        long correct = 0;
        for (int i = 0; i < n; i++) {
            int row = base + i * c;
            lossSum -= lp.get(row + labels[i]);
            int best = 0;
            float max = lp.get(row);
            for (int j = 1; j < c; j++) {
                float v = lp.get(row + j);
                if (v > max) { // first maximum, as argMax; NaN never wins
                    max = v;
                    best = j;
                }
            }
            if (best == labels[i]) {
                correct++;
            }
        }
        if (gradient == null) {
            return new Result(lossSum, n, correct, null);
        }
        // gradient of the mean loss: (softmax - onehot) / n = exp(logp - log n) - onehot / n
        long address = Dnnl.address(gradient);
        Dnnl.Layout flat = Dnnl.Layout.dense((long) n * classes);
        Dnnl.eltwise(dnnl_eltwise_linear, 1f, (float) -Math.log(n), flat).exec(address, address);
        Dnnl.eltwise(dnnl_eltwise_exp, 0f, 0f, flat).exec(address, address);
        float inv = 1f / n;
        for (int i = 0; i < n; i++) {
            int at = base + i * c + labels[i];
            lp.put(at, lp.get(at) - inv);
        }
        return new Result(lossSum, n, correct, gradient);
    }
}
