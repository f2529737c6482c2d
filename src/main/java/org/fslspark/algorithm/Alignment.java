package org.fslspark.algorithm;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.Dense;
import org.fslspark.model.Flatten;
import org.fslspark.model.Layer;
import org.fslspark.model.Network;
import org.fslspark.model.Relu;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.List;

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
        INDArray saved = net.hasState() ? net.params().dup() : null;
        INDArray g = net.backward(CrossEntropy.evaluate(net.forward(z), labels, true).gradient());
        restore(net, saved);
        return g;
    }

    /**
     * Zeros the gradients and puts back the parameter vector a training-mode probe may have changed: the
     * server's gradient is taken as in training (batch statistics, as the server would return it), but a
     * probe is not a training step, so batch norm's running statistics stay where they were.
     */
    private static void restore(Network net, INDArray saved) {
        net.zeroGrads();
        if (saved != null) {
            net.params().assign(saved);
        }
    }

    /**
     * Per-sample gradients grad_z l(net(z_n), y_n): the gradient of the summed loss, i.e. b times
     * that of the batch-mean loss. The network's parameter gradients are left at zero.
     */
    public static INDArray perSampleInputGradient(Network net, INDArray z, int[] labels) {
        INDArray saved = net.hasState() ? net.params().dup() : null;
        INDArray g = net.backward(summedLossGradient(net, z, labels));
        restore(net, saved);
        return g;
    }

    /**
     * As {@link #perSampleInputGradient(Network, INDArray, int[])}, {@code chunk} samples at a time: per-sample
     * gradients do not depend on the other samples (a batch-norm server's do, through the batch statistics: FSL-SAGE
     * takes those per uploaded minibatch instead), and a language model's activations for a whole buffer would not
     * fit in memory.
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
     * The alignment loss at (z, labels, targets g) and its gradient, left in {@code aux.grads()}, in the
     * network's own precision.
     *
     * @param epsilon the central difference's step relative to ||z|| / ||r||
     */
    public static double lossAndGradient(Network aux, INDArray z, int[] labels, INDArray targets, double epsilon) {
        return new Fit(aux, aux, epsilon, false).lossAndGradient(z, labels, targets);
    }

    /**
     * Repeated alignment steps on one network, reusing its scratch arrays: allocating fresh
     * activation-sized arrays for every step costs more than the step itself. A ReLU head's units keep
     * their on/off pattern of z through the two shifted passes: a unit that switched inside the step
     * would add a jump divided by the step (measured on an MLP head, step 1e-3 relative: a gradient
     * wrong by 8 to 14 times its size). The gradient is computed in a float64 twin of the network, so
     * that it agrees with an exact one to float32 rounding. A linear head (flatten, dense) takes
     * ALGORITHMS.md's closed form instead: exact, with two passes' worth of products and no
     * activation-sized scratch arrays, which is what an alignment round's time goes to.
     */
    public static final class Fit {
        private final Network aux;
        private final Network twin;
        private final double epsilon;
        private final boolean closedForm;
        private INDArray shifted;
        private INDArray plus;
        private INDArray residual;
        private INDArray castFrom;
        private INDArray targetsFrom;
        private INDArray castZ;
        private INDArray castTargets;

        /** @param twin a network of aux's architecture in float64 (or aux itself, when it is float64) */
        public Fit(Network aux, Network twin, double epsilon) {
            this(aux, twin, epsilon, true);
        }

        Fit(Network aux, Network twin, double epsilon, boolean closedFormWhenLinear) {
            this.aux = aux;
            this.twin = twin;
            this.epsilon = epsilon;
            List<Layer> layers = twin.layers();
            this.closedForm = closedFormWhenLinear && layers.size() == 2 && layers.get(0) instanceof Flatten
                    && layers.get(1) instanceof Dense;
        }

        /** z and targets are read, never written; a call with the same two arrays as the last reuses their float64 copies. */
        public double lossAndGradient(INDArray z, int[] labels, INDArray targets) {
            if (twin == aux) {
                return gradient(z, labels, targets);
            }
            twin.setParams(aux.params());
            if (z != castFrom || targets != targetsFrom) {
                // A whole-buffer fit passes the same arrays every epoch: cast them once, not per step.
                castFrom = z;
                targetsFrom = targets;
                castZ = z.castTo(twin.params().dataType());
                castTargets = targets.castTo(twin.params().dataType());
            }
            double loss = gradient(castZ, labels, castTargets);
            aux.grads().assign(twin.grads());
            twin.zeroGrads();
            return loss;
        }

        private double gradient(INDArray z, int[] labels, INDArray targets) {
            return closedForm && labels.length == z.size(0) ? linear(z, labels, targets) : centralDifference(z, labels, targets);
        }

        /**
         * ALGORITHMS.md's closed form for a(z) = W z + c under softmax cross-entropy, per sample n:
         * p = softmax(W z + c), e = p - onehot(y), r = W^T e - g, u = W r,
         * dL/dW = 2 sum_n [e r^T + (p . (u - (p^T u) 1)) z^T], dL/dc = 2 sum_n p . (u - (p^T u) 1).
         * Dense stores W transposed ([in, classes]) and then c, which the slices below follow.
         */
        private double linear(INDArray z, int[] labels, INDArray targets) {
            int n = (int) z.size(0);
            INDArray x = z.reshape('c', n, z.length() / n);
            long in = x.size(1);
            INDArray params = twin.params();
            int classes = (int) (params.length() / (in + 1));
            INDArray w = params.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, in * classes)).reshape('c', in, classes);
            INDArray c = params.get(NDArrayIndex.point(0), NDArrayIndex.interval(in * classes, in * classes + classes));
            INDArray p = Transforms.softmax(Nd4j.gemm(x, w, false, false).addiRowVector(c), false);
            INDArray e = p.dup();
            for (int i = 0; i < n; i++) {
                e.putScalar(i, labels[i], e.getDouble(i, labels[i]) - 1);
            }
            // Products by gemm with transpose flags: a transposed [n, in] view would otherwise be copied.
            if (residual == null || residual.size(0) != n || residual.size(1) != in || residual.dataType() != x.dataType()) {
                residual = Nd4j.createUninitialized(x.dataType(), n, in);
            }
            INDArray r = Nd4j.gemm(e, w, residual, false, true, 1.0, 0.0).subi(targets.reshape('c', n, in));
            double rNorm = r.norm2Number().doubleValue();
            INDArray u = Nd4j.gemm(r, w, false, false);
            INDArray v = p.mul(u.subiColumnVector(p.mul(u).sum(true, 1)));
            INDArray grads = twin.grads();
            INDArray dw = grads.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, in * classes)).reshape('c', in, classes);
            Nd4j.gemm(r, e, dw, true, false, 2.0, 0.0);
            Nd4j.gemm(x, v, dw, true, false, 2.0, 1.0);
            grads.get(NDArrayIndex.point(0), NDArrayIndex.interval(in * classes, in * classes + classes)).assign(v.sum(true, 0).muli(2));
            return rNorm * rNorm;
        }

        private double centralDifference(INDArray z, int[] labels, INDArray targets) {
            // r is as large as the buffer (100 MB in float64 for resnet20's 1,000 samples) and new every epoch: freed
            // here, since ND4J frees off-heap memory only when the Java GC collects its array, which a small heap
            // rarely does (resnet20's 100-epoch fits grew the process by that much per epoch; docs/REPRODUCTION.md).
            try (INDArray r = perSampleInputGradient(twin, z, labels).subi(targets)) {
                return stepAlong(z, labels, r);
            }
        }

        /** The central difference of the loss gradient along the residual {@code r} (scaled in place). */
        private double stepAlong(INDArray z, int[] labels, INDArray r) {
            double rNorm = r.norm2Number().doubleValue();
            twin.zeroGrads();
            if (rNorm == 0) {
                return 0;
            }
            if (shifted == null || !java.util.Arrays.equals(shifted.shape(), z.shape())) {
                shifted = z.ulike();
                plus = twin.grads().ulike();
            }
            double eps = epsilon * z.norm2Number().doubleValue() / rNorm;
            r.muli(eps);
            // ReLUs keep their masks at z: the difference is then that of a smooth function.
            List<Relu> relus = twin.layers().stream().filter(l -> l instanceof Relu).map(l -> (Relu) l).toList();
            if (!relus.isEmpty()) {
                twin.forward(z);
                relus.forEach(Relu::freeze);
            }
            try {
                twin.backward(summedLossGradient(twin, shifted.assign(z).addi(r), labels), false);
                plus.assign(twin.grads());
                twin.zeroGrads();
                twin.backward(summedLossGradient(twin, shifted.assign(z).subi(r), labels), false);
            } finally {
                relus.forEach(Relu::unfreeze);
            }
            twin.grads().rsubi(plus).divi(eps);
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
