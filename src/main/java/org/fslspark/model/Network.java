package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A sequence of layers whose parameters live in one flat float vector [1, numParams]. Either side
 * of a split model is a Network; so is the unsplit model, whose vector is the client's followed by
 * the server's. Frozen layers (a base model under LoRA adapters) keep their parameters outside that
 * vector: it holds only what trains.
 */
public final class Network {
    private final List<Layer> layers;
    private final long[] inputShape;
    private final INDArray params;
    private final INDArray grads;

    public Network(List<Layer> layers, long[] inputShape) {
        this(layers, inputShape, DataType.FLOAT);
    }

    /** A network in another precision; gradient checks run in DOUBLE. */
    public Network(List<Layer> layers, long[] inputShape, DataType dataType) {
        this.layers = List.copyOf(layers);
        this.inputShape = inputShape.clone();
        long total = 0;
        long[] shape = inputShape;
        for (Layer layer : this.layers) {
            shape = layer.outputShape(shape); // validates the chain of shapes up front
            total += layer.trainableParams();
        }
        this.params = Nd4j.zeros(dataType, 1, Math.max(total, 1));
        this.grads = Nd4j.zeros(dataType, 1, Math.max(total, 1));
        long offset = 0;
        for (Layer layer : this.layers) {
            long n = layer.trainableParams();
            if (n > 0) {
                layer.bind(Views.slice(params, offset, n, 1, n), Views.slice(grads, offset, n, 1, n));
            }
            offset += n;
        }
    }

    /** A view of layers that are already bound: {@link #slice}. */
    private Network(List<Layer> layers, long[] inputShape, INDArray params, INDArray grads) {
        this.layers = List.copyOf(layers);
        this.inputShape = inputShape.clone();
        this.params = params;
        this.grads = grads;
    }

    /**
     * Layers {@code from} (inclusive) to {@code to} (exclusive) as a network of their own over this one's parameters
     * and gradients: its vectors are views of this network's, so training the slice trains these layers here. How the
     * server runs its part from a client's cut when clients cut at different layers (docs/CUTS.md); the whole range is
     * this network itself.
     */
    public Network slice(int from, int to) {
        if (from < 0 || to > layers.size() || from > to) {
            throw new IllegalArgumentException("layers " + from + ".." + to + " of a network of " + layers.size());
        }
        if (from == 0 && to == layers.size()) {
            return this;
        }
        long[] shape = inputShape;
        long start = 0;
        for (Layer layer : layers.subList(0, from)) {
            shape = layer.outputShape(shape);
            start += layer.trainableParams();
        }
        long n = 0;
        for (Layer layer : layers.subList(from, to)) {
            n += layer.trainableParams();
        }
        if (n == 0) {
            // No parameters: a vector of its own, as a network without parameters has.
            return new Network(layers.subList(from, to), shape, Nd4j.zeros(params.dataType(), 1, 1),
                    Nd4j.zeros(params.dataType(), 1, 1));
        }
        return new Network(layers.subList(from, to), shape,
                params.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(start, start + n)),
                grads.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(start, start + n)));
    }

    /** Draws initial parameters layer by layer from one seeded stream. */
    public Network initialize(Random rng) {
        for (Layer layer : layers) {
            if (!layer.frozen()) {
                layer.initialize(rng);
            }
        }
        return this;
    }

    /**
     * The output for input [b, ...] in training mode (batch normalisation normalises with the batch's
     * statistics and updates its running ones); a fresh array the caller may keep (layers reuse their
     * own buffers).
     */
    public INDArray forward(INDArray x) {
        return forward(x, true);
    }

    /**
     * The output in training or evaluation mode. Evaluation mode ({@code training == false}) uses batch
     * normalisation's running statistics and changes nothing in the network: test metrics use it.
     */
    public INDArray forward(INDArray x, boolean training) {
        INDArray a = x;
        for (Layer layer : layers) {
            a = layer.forward(a, training);
        }
        return a.dup();
    }

    /**
     * As {@link #forward(INDArray)} without the copy: the last layer's own output buffer, valid until
     * this network's next forward pass. For a caller that uses the output at once and keeps nothing
     * (the activations a client sends and then waits on, logits turned into a loss and a gradient):
     * the copy would be a fresh off-heap array per step, which costs far more here than the copy
     * itself (page faults, about 5 ms per MB; docs/PERFORMANCE.md).
     */
    public INDArray forwardNoCopy(INDArray x) {
        INDArray a = x;
        for (Layer layer : layers) {
            a = layer.forward(a, true);
        }
        return a;
    }

    /** The output in evaluation mode: {@code forward(x, false)}. */
    public INDArray predict(INDArray x) {
        return forward(x, false);
    }

    /**
     * Whether a training-mode forward pass changes the parameter vector (batch normalisation's running
     * statistics): a probe that must leave the network as it was (the server's gradient for an
     * alignment target) then restores the vector.
     */
    public boolean hasState() {
        return layers.stream().anyMatch(l -> !l.frozen() && l.hasState());
    }

    /** Zeros the update of non-trained state (running statistics) in {@link #grads()}; see {@link Layer#discardStateUpdate}. */
    void discardStateUpdates() {
        for (Layer layer : layers) {
            if (!layer.frozen()) {
                layer.discardStateUpdate();
            }
        }
    }

    /** Backpropagates dLoss/dOutput, adding to the parameter gradients; returns dLoss/dInput (a fresh array). */
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    /**
     * As {@link #backward(INDArray)}; with {@code inputGradient == false} the first layer may skip
     * dLoss/dInput (a client's input is data, its gradient is never used) and null is returned.
     */
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        INDArray g = gradOutput;
        for (int i = layers.size() - 1; i >= 0; i--) {
            g = layers.get(i).backward(g, inputGradient || i > 0);
            layers.get(i).clearCache();
        }
        return inputGradient && g != null ? g.dup() : null;
    }

    /**
     * As {@link #backward(INDArray)} without the copy: dLoss/dInput in the first layer's own buffer,
     * valid until this network's next backward pass (the gradient a server sends back at once).
     */
    public INDArray backwardNoCopy(INDArray gradOutput) {
        INDArray g = gradOutput;
        for (int i = layers.size() - 1; i >= 0; i--) {
            g = layers.get(i).backward(g, true);
            layers.get(i).clearCache();
        }
        return g;
    }

    public void zeroGrads() {
        grads.assign(0);
    }

    /** Flat parameters [1, n]; writes to it change the network. */
    public INDArray params() {
        return params;
    }

    /** Flat gradients [1, n], laid out like {@link #params()}. */
    public INDArray grads() {
        return grads;
    }

    public void setParams(INDArray flat) {
        if (flat.length() != numParams()) {
            throw new IllegalArgumentException("expected " + numParams() + " parameters, got " + flat.length());
        }
        params.assign(flat.reshape(1, flat.length()));
    }

    public long numParams() {
        long n = 0;
        for (Layer layer : layers) {
            n += layer.trainableParams();
        }
        return n;
    }

    public List<Layer> layers() {
        return layers;
    }

    public long[] inputShape() {
        return inputShape.clone();
    }

    /** Per-sample output shape. */
    public long[] outputShape() {
        long[] s = inputShape;
        for (Layer layer : layers) {
            s = layer.outputShape(s);
        }
        return s;
    }

    /** Forward multiply-accumulates for one sample. */
    public long macsPerSample() {
        long macs = 0;
        long[] s = inputShape;
        for (Layer layer : layers) {
            macs += layer.macsPerSample(s);
            s = layer.outputShape(s);
        }
        return macs;
    }

    public String describe() {
        List<String> names = new ArrayList<>();
        for (Layer layer : layers) {
            names.add(layer.describe());
        }
        return String.join(" > ", names) + " " + Arrays.toString(inputShape) + "->" + Arrays.toString(outputShape());
    }
}
