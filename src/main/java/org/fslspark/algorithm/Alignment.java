package org.fslspark.algorithm;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.Network;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;

/**
 * FSL-SAGE's alignment objective L(a) = sum_n ||grad_z l(a(z_n), y_n) - g_n||^2 on per-sample
 * gradients, and its parameter gradient from two first-order passes (ALGORITHMS.md):
 * grad_theta L = 2 J^T r = 2 grad_theta (r^T grad_z l) ~ (grad_theta l(a(z + eps r)) - grad_theta l(a(z - eps r))) / eps,
 * with l summed over the batch and r held fixed. Works for any auxiliary architecture.
 */
public final class Alignment {
    private Alignment() {
    }

    /** Estimate quality on a batch: ||g_hat - g||^2 / ||g||^2 and the cosine of g_hat and g. */
    public record Quality(double nmse, double cosine) implements java.io.Serializable {
        public static final Quality NONE = new Quality(Double.NaN, Double.NaN);

        static Quality of(INDArray estimate, INDArray truth) {
            double gg = truth.norm2Number().doubleValue();
            double hh = estimate.norm2Number().doubleValue();
            double diff = estimate.sub(truth).norm2Number().doubleValue();
            double dot = estimate.mul(truth).sumNumber().doubleValue();
            return new Quality(diff * diff / (gg * gg), dot / (gg * hh));
        }
    }

    /**
     * grad_z of the batch-mean loss of net(z): the gradient a server returns for a minibatch. The
     * network's parameters and parameter gradients are left as they were (gradients at zero).
     */
    public static INDArray inputGradient(Network net, INDArray z, int[] labels) {
        INDArray g = net.backward(CrossEntropy.evaluate(net.forward(z), labels, true).gradient());
        net.zeroGrads();
        return g;
    }

    /**
     * Per-sample gradients grad_z l(net(z_n), y_n): the gradient of the summed loss, i.e. b times
     * that of the batch-mean loss. The network's parameter gradients are left at zero.
     */
    public static INDArray perSampleInputGradient(Network net, INDArray z, int[] labels) {
        INDArray g = net.backward(summedLossGradient(net, z, labels));
        net.zeroGrads();
        return g;
    }

    /**
     * As {@link #perSampleInputGradient(Network, INDArray, int[])}, {@code chunk} samples at a time: per-sample
     * gradients do not depend on the other samples, and a language model's activations for a whole buffer
     * would not fit in memory.
     */
    public static INDArray perSampleInputGradient(Network net, INDArray z, int[] labels, int chunk) {
        int n = (int) z.size(0);
        if (n <= chunk) {
            return perSampleInputGradient(net, z, labels);
        }
        int perSample = labels.length / n;
        INDArray g = z.ulike();
        for (int start = 0; start < n; start += chunk) {
            int end = Math.min(n, start + chunk);
            g.get(NDArrayIndex.interval(start, end)).assign(perSampleInputGradient(net,
                    z.get(NDArrayIndex.interval(start, end)).dup(),
                    Arrays.copyOfRange(labels, start * perSample, end * perSample)));
        }
        return g;
    }

    private static INDArray summedLossGradient(Network net, INDArray z, int[] labels) {
        return CrossEntropy.evaluate(net.forward(z), labels, true).gradient().muli(labels.length);
    }

    /**
     * The alignment loss at (z, labels, targets g) and its gradient, left in {@code aux.grads()}.
     *
     * @param epsilon the central difference's step relative to ||z|| / ||r||
     */
    public static double lossAndGradient(Network aux, INDArray z, int[] labels, INDArray targets, double epsilon) {
        return new Fit(aux, epsilon).lossAndGradient(z, labels, targets);
    }

    /**
     * Repeated alignment steps on one network, reusing its scratch arrays: allocating fresh
     * activation-sized arrays for every step costs more than the step itself.
     */
    public static final class Fit {
        private final Network aux;
        private final double epsilon;
        private INDArray shifted;
        private INDArray plus;

        public Fit(Network aux, double epsilon) {
            this.aux = aux;
            this.epsilon = epsilon;
        }

        public double lossAndGradient(INDArray z, int[] labels, INDArray targets) {
            INDArray r = perSampleInputGradient(aux, z, labels).subi(targets);
            double rNorm = r.norm2Number().doubleValue();
            aux.zeroGrads();
            if (rNorm == 0) {
                return 0;
            }
            if (shifted == null || !java.util.Arrays.equals(shifted.shape(), z.shape())) {
                shifted = z.ulike();
                plus = aux.grads().ulike();
            }
            double eps = epsilon * z.norm2Number().doubleValue() / rNorm;
            r.muli(eps);
            aux.backward(summedLossGradient(aux, shifted.assign(z).addi(r), labels), false);
            plus.assign(aux.grads());
            aux.zeroGrads();
            aux.backward(summedLossGradient(aux, shifted.assign(z).subi(r), labels), false);
            aux.grads().rsubi(plus).divi(eps);
            return rNorm * rNorm;
        }
    }

    /** The estimate's quality against the server's own gradients on a batch, both per sample. */
    public static Quality quality(Network aux, Network server, SmashedBatch batch) {
        if (batch == null) {
            return Quality.NONE;
        }
        return Quality.of(perSampleInputGradient(aux, batch.activations(), batch.labels()),
                perSampleInputGradient(server, batch.activations(), batch.labels()));
    }
}
