package org.fslspark.algorithm;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A network together with its own optimizer: one trainable part of a split model.
 *
 * <p>A server part that clients enter at different layers (per-site cuts, docs/CUTS.md) has an optimizer per
 * segment: the layers from one entry to the next. A batch entering at layer e trains layers e..end ({@link #from})
 * and steps only their segments, so a layer's optimizer counts the steps of the batches that reached it. With one
 * segment (every other learner) it is the network and its optimizer, as ever.
 */
public final class Learner {
    private final Network network;
    /** Where each segment begins (ascending, from 0), its layers as a view network, its optimizer (null without parameters). */
    private final int[] starts;
    private final List<Network> segments;
    private final List<Optimizer> optimizers;
    private final Map<Integer, Learner> suffixes = new ConcurrentHashMap<>();

    public Learner(Network network, IUpdater updater) {
        this(network, updater, new int[]{0});
    }

    /** A learner with an optimizer per segment of layers beginning at {@code starts} (ascending, the first 0). */
    public Learner(Network network, IUpdater updater, int[] starts) {
        if (starts.length == 0 || starts[0] != 0) {
            throw new IllegalArgumentException("segments must begin at layer 0: " + Arrays.toString(starts));
        }
        this.network = network;
        this.starts = starts.clone();
        this.segments = new ArrayList<>();
        this.optimizers = new ArrayList<>();
        int layers = network.layers().size();
        for (int s = 0; s < starts.length; s++) {
            int end = s + 1 < starts.length ? starts[s + 1] : layers;
            if (end <= starts[s]) {
                throw new IllegalArgumentException("segments " + Arrays.toString(starts) + " of " + layers + " layers");
            }
            Network segment = starts.length == 1 ? network : network.slice(starts[s], end);
            segments.add(segment);
            optimizers.add(segment.numParams() > 0 || starts.length == 1 ? new Optimizer(updater, segment) : null);
        }
    }

    /** Layers {@code first}.. of {@code parent}, stepping the parent's segments that lie there. */
    private Learner(Learner parent, int first) {
        this.network = parent.network.slice(first, parent.network.layers().size());
        int from = Arrays.binarySearch(parent.starts, first);
        if (from < 0) {
            throw new IllegalArgumentException("no segment begins at layer " + first + " (segments begin at "
                    + Arrays.toString(parent.starts) + ")");
        }
        this.starts = Arrays.stream(parent.starts, from, parent.starts.length).map(s -> s - first).toArray();
        this.segments = parent.segments.subList(from, parent.segments.size());
        this.optimizers = parent.optimizers.subList(from, parent.optimizers.size());
    }

    public Network network() {
        return network;
    }

    /** Its optimizer, whose state the runtime saves and restores with the network's parameters; one segment only. */
    public Optimizer optimizer() {
        if (optimizers.size() != 1) {
            throw new IllegalStateException("a learner of " + optimizers.size() + " segments has an optimizer per segment");
        }
        return optimizers.get(0);
    }

    /** The optimizer of each segment, in layer order (null for a segment without parameters). */
    public List<Optimizer> optimizers() {
        return java.util.Collections.unmodifiableList(optimizers);
    }

    /**
     * Layers {@code first}.. as a learner of their own over the same parameters and optimizers: what trains when a
     * batch enters at that layer. {@code first} must begin a segment; 0 is this learner.
     */
    public Learner from(int first) {
        return first == 0 ? this : suffixes.computeIfAbsent(first, f -> new Learner(this, f));
    }

    public INDArray forward(INDArray input) {
        return network.forward(input);
    }

    /** Backpropagates an external gradient of this part's output and steps; returns the input gradient. */
    public INDArray backwardAndStep(INDArray outputGradient) {
        INDArray inputGradient = network.backward(outputGradient);
        step();
        return inputGradient;
    }

    /** Steps on the gradients already in the network (and clears them). */
    public void step() {
        for (int s = 0; s < segments.size(); s++) {
            if (optimizers.get(s) != null) {
                optimizers.get(s).step(segments.get(s));
            }
        }
    }

    /**
     * Forward, batch-mean cross-entropy, backward and a step; returns the loss and dLoss/dInput. The
     * input gradient is the network's own buffer, valid until this learner's next step (every caller
     * sends or consumes it at once): no array is allocated per step for the logits, their gradient or
     * the input gradient, each of which would cost more in page faults than the copy itself.
     */
    public Step trainOn(INDArray input, int[] labels) {
        INDArray logits = network.forwardNoCopy(input);
        if (logitGradient == null || !java.util.Arrays.equals(logitGradient.shape(), logits.shape())) {
            logitGradient = org.nd4j.linalg.factory.Nd4j.createUninitialized(logits.dataType(), logits.shape(), 'c');
        }
        CrossEntropy.Result r = CrossEntropy.evaluate(logits, labels, logitGradient);
        INDArray inputGradient = network.backwardNoCopy(r.gradient());
        step();
        return new Step(r.meanLoss(), inputGradient);
    }

    /** The gradient of the logits, reused from step to step (its shape changes only with the batch size). */
    private INDArray logitGradient;

    /** The outcome of one training step. */
    public record Step(double loss, INDArray inputGradient) {
    }
}
