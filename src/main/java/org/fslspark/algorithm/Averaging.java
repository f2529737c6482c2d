package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/** Weighted averaging of flat parameter vectors: x = sum_i w_i x_i with sum_i w_i = 1. */
public final class Averaging {
    private Averaging() {
    }

    /** Weights n_i / sum_j n_j, or 1/m each when {@code uniform}. */
    public static double[] weights(long[] samples, boolean uniform) {
        double[] w = new double[samples.length];
        double total = 0;
        for (long n : samples) {
            total += uniform ? 1 : n;
        }
        if (total <= 0) {
            throw new IllegalArgumentException("cannot average: no samples");
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (uniform ? 1 : samples[i]) / total;
        }
        return w;
    }

    public static INDArray average(List<INDArray> models, double[] weights) {
        if (models.isEmpty() || models.size() != weights.length) {
            throw new IllegalArgumentException(models.size() + " models but " + weights.length + " weights");
        }
        INDArray sum = models.get(0).mul(weights[0]);
        for (int i = 1; i < models.size(); i++) {
            if (models.get(i).length() != sum.length()) {
                throw new IllegalArgumentException("model " + i + " has " + models.get(i).length()
                        + " parameters, model 0 has " + sum.length());
            }
            sum.addi(models.get(i).mul(weights[i]));
        }
        return sum;
    }
}
