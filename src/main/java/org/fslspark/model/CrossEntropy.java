package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

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
        long classes = logits.size(logits.rank() - 1);
        INDArray z = logits.rank() == 2 ? logits : logits.reshape('c', logits.length() / classes, classes);
        int n = (int) z.size(0);
        if (labels.length != n) {
            throw new IllegalArgumentException("got " + labels.length + " labels for " + n + " rows of logits");
        }
        long[] targets = new long[n]; // flat indices of the targets in the [n * classes] logits
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " outside [0, " + classes + ")");
            }
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
}
