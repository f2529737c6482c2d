package org.fslspark.runtime;

import org.fslspark.data.Samples;
import org.fslspark.model.CrossEntropy;
import org.fslspark.model.SplitModel;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/**
 * Test loss and accuracy of the global model x_s o x_c on the held-out test set, at the driver: per image, or for
 * a language model per predicted token (token loss, next-token accuracy), since both are means over the rows of
 * {@link CrossEntropy}.
 */
final class Evaluator {
    private final Samples test;
    private final SplitModel model;
    private final int batchSize;

    /** @param model the run's model, into which each evaluation sets the global vectors */
    Evaluator(Samples test, SplitModel model, int batchSize) {
        this.test = test;
        this.model = model;
        this.batchSize = batchSize;
    }

    record Result(double accuracy, double loss) {
    }

    Result evaluate(INDArray clientParams, INDArray serverParams) {
        model.client().setParams(clientParams);
        model.server().setParams(serverParams);
        int n = test.size();
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        double lossSum = 0;
        long correct = 0;
        long rows = 0;
        for (int start = 0; start < n; start += batchSize) {
            int[] idx = Arrays.copyOfRange(all, start, Math.min(n, start + batchSize));
            // Evaluation mode: batch norm uses the global model's running statistics and changes nothing. The batch's
            // arrays are freed at once (a resnet20 cut is 50 MB for 1,000 images): ND4J frees off-heap memory only
            // when the GC collects an array.
            CrossEntropy.Result r;
            try (INDArray x = test.features(idx); INDArray z = model.client().predict(x);
                 INDArray logits = model.server().predict(z)) {
                r = CrossEntropy.evaluate(logits, test.labels(idx), false);
            }
            lossSum += r.lossSum();
            correct += r.correct();
            rows += r.rows();
        }
        return new Result((double) correct / rows, lossSum / rows);
    }
}
