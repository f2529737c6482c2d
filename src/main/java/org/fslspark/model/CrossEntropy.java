package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Softmax cross-entropy averaged over the rows of a batch: logits [n, classes] (or [b, t, classes]
 * for sequences, every position a row). The gradient is that of the batch-mean loss, i.e. the
 * per-sample gradient divided by n, which is what a server returns for a minibatch.
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
        INDArray logProbs = Ops.exec1("log_softmax", new INDArray[]{z}, new int[]{1});
        float[] oneHot = new float[(int) (n * classes)];
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " outside [0, " + classes + ")");
            }
            oneHot[(int) (i * classes + labels[i])] = 1f;
        }
        INDArray targets = Nd4j.create(oneHot, new long[]{n, classes}, 'c').castTo(z.dataType());
        double lossSum = -logProbs.mul(targets).sumNumber().doubleValue();
        int[] predicted = logProbs.argMax(1).toIntVector();
        long correct = 0;
        for (int i = 0; i < n; i++) {
            if (predicted[i] == labels[i]) {
                correct++;
            }
        }
        INDArray gradient = null;
        if (withGradient) {
            gradient = Transforms.exp(logProbs, false).subi(targets).divi(n);
            if (logits.rank() != 2) {
                gradient = gradient.reshape('c', logits.shape());
            }
        }
        return new Result(lossSum, n, correct, gradient);
    }
}
