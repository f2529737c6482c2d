package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Random;

/**
 * One differentiable step of a network. Parameters and their gradients are views into the
 * network's flat vectors, so a whole model (or one side of the cut) is one contiguous array:
 * that is what optimizers step, what FedAvg averages and what the transport sends.
 *
 * <p>A layer caches what its backward pass needs during {@link #forward}; it is not thread-safe.
 */
public abstract class Layer {
    protected INDArray params;
    protected INDArray grads;

    /** Number of trainable scalars. */
    public long numParams() {
        return 0;
    }

    /** Binds this layer to its slices of the network's parameter and gradient vectors. */
    void bind(INDArray paramView, INDArray gradView) {
        this.params = paramView;
        this.grads = gradView;
    }

    /** Writes initial values into the bound parameter view. */
    void initialize(Random rng) {
    }

    /** Output shape for one sample (no batch dimension). */
    public abstract long[] outputShape(long[] inputShape);

    /** Forward multiply-accumulate count for one sample; FLOPs are twice this. */
    public long macsPerSample(long[] inputShape) {
        return 0;
    }

    public abstract INDArray forward(INDArray input);

    /** Accumulates parameter gradients (adds to the gradient view) and returns dLoss/dInput. */
    public abstract INDArray backward(INDArray gradOutput);

    /** Drops cached activations so their off-heap memory can be reused. */
    public void clearCache() {
    }

    /** A short description such as {@code conv5x5x64}. */
    public abstract String describe();

    /** Uniform(-bound, bound) in float, the PyTorch default for weights and biases (bound = 1/sqrt(fanIn)). */
    static void uniform(INDArray target, double bound, Random rng) {
        float[] values = new float[(int) target.length()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        target.assign(org.nd4j.linalg.factory.Nd4j.createFromArray(values).reshape(target.shape()));
    }
}
