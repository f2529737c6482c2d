package org.fslspark.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cross-entropy on sequence logits [b, t, vocab] with targets int[b * t], as language-model batches carry them. */
class CrossEntropyTest {

    /** Mean over all b * t tokens of -log softmax(logits[i, j])[labels[i * t + j]], computed by hand. */
    @Test
    void sequenceLossIsTheMeanOverAllTokensInSampleMajorOrder() {
        int b = 2;
        int t = 3;
        int v = 5;
        INDArray logits = FiniteDifferences.random(1, b, t, v).muli(3);
        int[] labels = {4, 0, 2, 1, 1, 3};
        double sum = 0;
        long correct = 0;
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                double max = Double.NEGATIVE_INFINITY;
                int argMax = 0;
                for (int c = 0; c < v; c++) {
                    if (logits.getDouble(i, j, c) > max) {
                        max = logits.getDouble(i, j, c);
                        argMax = c;
                    }
                }
                double norm = 0;
                for (int c = 0; c < v; c++) {
                    norm += Math.exp(logits.getDouble(i, j, c) - max);
                }
                int label = labels[i * t + j];
                sum += -(logits.getDouble(i, j, label) - max - Math.log(norm));
                correct += argMax == label ? 1 : 0;
            }
        }
        CrossEntropy.Result r = CrossEntropy.evaluate(logits, labels, true);
        assertEquals(b * t, r.rows());
        assertEquals(sum, r.lossSum(), 1e-12);
        assertEquals(sum / (b * t), r.meanLoss(), 1e-12);
        assertEquals(correct, r.correct());
        assertArrayEquals(logits.shape(), r.gradient().shape());
    }

    @Test
    void sequenceLossGradientMatchesFiniteDifferences() {
        INDArray logits = FiniteDifferences.random(2, 2, 4, 7).muli(2);
        int[] labels = {6, 0, 3, 3, 1, 5, 2, 6};
        INDArray gradient = CrossEntropy.evaluate(logits, labels, true).gradient();
        DoubleSupplier loss = () -> CrossEntropy.evaluate(logits, labels, false).meanLoss();
        long[] every = new long[(int) logits.length()];
        for (int i = 0; i < every.length; i++) {
            every[i] = i;
        }
        FiniteDifferences.check("logits", logits, gradient, every, loss);
    }

    @Test
    void targetsMustMatchTheTokensAndTheVocabulary() {
        INDArray logits = FiniteDifferences.random(3, 2, 3, 5);
        String count = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.evaluate(logits, new int[]{1, 2, 3}, false)).getMessage();
        assertTrue(count.contains("got 3 labels for 6 rows"), count);
        String range = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.evaluate(logits, new int[]{1, 2, 3, 5, 0, 0}, false)).getMessage();
        assertTrue(range.contains("label 5 outside [0, 5)"), range);
    }
}
