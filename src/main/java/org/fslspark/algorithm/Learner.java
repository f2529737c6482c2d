package org.fslspark.algorithm;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;

/** A network together with its own optimizer: one trainable part of a split model. */
public final class Learner {
    private final Network network;
    private final Optimizer optimizer;

    public Learner(Network network, IUpdater updater) {
        this.network = network;
        this.optimizer = new Optimizer(updater, network);
    }

    public Network network() {
        return network;
    }

    /** Its optimizer, whose state the runtime saves and restores with the network's parameters. */
    public Optimizer optimizer() {
        return optimizer;
    }

    public INDArray forward(INDArray input) {
        return network.forward(input);
    }

    /** Backpropagates an external gradient of this part's output and steps; returns the input gradient. */
    public INDArray backwardAndStep(INDArray outputGradient) {
        INDArray inputGradient = network.backward(outputGradient);
        optimizer.step(network);
        return inputGradient;
    }

    /** Steps on the gradients already in the network (and clears them). */
    public void step() {
        optimizer.step(network);
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
        optimizer.step(network);
        return new Step(r.meanLoss(), inputGradient);
    }

    /** The gradient of the logits, reused from step to step (its shape changes only with the batch size). */
    private INDArray logitGradient;

    /** The outcome of one training step. */
    public record Step(double loss, INDArray inputGradient) {
    }
}
