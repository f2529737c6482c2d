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

    /** Forward, batch-mean cross-entropy, backward and a step; returns the loss and dLoss/dInput. */
    public Step trainOn(INDArray input, int[] labels) {
        CrossEntropy.Result r = CrossEntropy.evaluate(network.forward(input), labels, true);
        return new Step(r.meanLoss(), backwardAndStep(r.gradient()));
    }

    /** The outcome of one training step. */
    public record Step(double loss, INDArray inputGradient) {
    }
}
