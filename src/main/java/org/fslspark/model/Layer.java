package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * One differentiable step of a network. Parameters and their gradients are views into the
 * network's flat vectors, so a whole model (or one side of the cut) is one contiguous array:
 * that is what optimizers step, what FedAvg averages and what the transport sends.
 *
 * <p>A layer caches what its backward pass needs during {@link #forward}; it is not thread-safe.
 *
 * <p>Layers write their outputs and input gradients into buffers they own and reuse from call to
 * call (see {@link #buffer}): an array returned by {@link #forward} or {@link #backward} is valid
 * until the next call of the same method on the same layer. {@link Network} copies what it hands
 * out, so this holds only inside a network.
 */
public abstract class Layer {
    /**
     * Buffers (role and shape) kept per layer before they are all dropped: room for the training,
     * evaluation and last partial batch shapes of an attention layer, which has ten roles.
     */
    private static final int MAX_BUFFERS = 32;

    protected INDArray params;
    protected INDArray grads;
    private final Map<String, INDArray> buffers = new HashMap<>();
    private boolean frozen;

    /** Number of the layer's own scalars (trainable unless the layer is frozen). */
    public long numParams() {
        return 0;
    }

    /**
     * Scalars this layer takes in a network's flat vector: none once frozen. A frozen layer keeps
     * the views it was bound to (a base model under LoRA adapters), so optimizers, averaging and
     * the transport never see its parameters.
     */
    public final long trainableParams() {
        return frozen ? 0 : numParams();
    }

    /** Freezes this layer's parameters where they are; call after they are bound and loaded. */
    void freeze() {
        frozen = true;
    }

    /** Whether {@link #freeze} was called: the layer may then skip its parameter gradients. */
    final boolean frozen() {
        return frozen;
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

    /** The output in training mode (what {@link Network#forward} runs). */
    public abstract INDArray forward(INDArray input);

    /**
     * The output in training ({@code true}) or evaluation mode. Only layers that behave differently
     * (batch normalisation: batch statistics and an update of the running ones in training, the
     * running statistics in evaluation) and the composites holding them override this.
     */
    public INDArray forward(INDArray input, boolean training) {
        return forward(input);
    }

    /**
     * Zeros this layer's slots of non-trained state (batch normalisation's running statistics) in the
     * network's gradient vector, which the optimizer has just turned into an update: that state lives
     * in the flat parameter vector so that FedAvg averages it and the transport carries it, but only
     * the layer's forward pass moves it, never the optimizer (whatever its momentum or weight decay).
     */
    void discardStateUpdate() {
    }

    /** Whether this layer keeps non-trained state in its slice that a training-mode forward pass moves. */
    boolean hasState() {
        return false;
    }

    /** Accumulates parameter gradients (adds to the gradient view) and returns dLoss/dInput. */
    public abstract INDArray backward(INDArray gradOutput);

    /**
     * As {@link #backward(INDArray)}; with {@code inputGradient == false} the layer may skip
     * dLoss/dInput and return null (a network's first layer: nobody needs the gradient of the data).
     */
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        return backward(gradOutput);
    }

    /** Drops cached activations so their off-heap memory can be reused. */
    public void clearCache() {
    }

    /**
     * A reusable array of the given shape for the named role, allocated on first use. Fresh large
     * off-heap arrays are expensive here (page faults dominate the elementwise ops), so each layer
     * keeps one per role and shape. The contents are garbage until written.
     */
    protected final INDArray buffer(String role, DataType type, long... shape) {
        String key = role + type + Arrays.toString(shape);
        INDArray b = buffers.get(key);
        if (b == null) {
            if (buffers.size() >= MAX_BUFFERS) {
                buffers.clear(); // shapes keep changing: let the GC take the old ones rather than grow
            }
            b = Nd4j.createUninitialized(type, shape, 'c');
            buffers.put(key, b);
        }
        return b;
    }

    /** Drops all reusable buffers (e.g. after a one-off large batch). */
    public void releaseBuffers() {
        buffers.clear();
    }

    /** A short description such as {@code conv5x5x64}. */
    public abstract String describe();

    /** Normal(0, std) in float: GPT-2's initialisation of weights and embeddings. */
    static void normal(INDArray target, double std, Random rng) {
        float[] values = new float[(int) target.length()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (rng.nextGaussian() * std);
        }
        put(target, values);
    }

    /** Uniform(-bound, bound) in float, the PyTorch default for weights and biases (bound = 1/sqrt(fanIn)). */
    static void uniform(INDArray target, double bound, Random rng) {
        float[] values = new float[(int) target.length()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        put(target, values);
    }

    /**
     * Writes values (row-major) into a parameter view: straight into a float view's memory, without the
     * temporary off-heap array (tens of MB for a large model's embeddings, each a fresh allocation).
     */
    private static void put(INDArray target, float[] values) {
        if (Dnnl.usable(target) && Dnnl.dense(target)) { // float on ND4J's CPU backend: host memory is the array
            java.nio.FloatBuffer memory = target.data().asNioFloat();
            memory.put((int) target.offset(), values);
        } else {
            target.assign(Nd4j.createFromArray(values).reshape(target.shape()));
        }
    }
}
