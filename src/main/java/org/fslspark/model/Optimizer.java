package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * ND4J's updater (Adam, SGD, ...) applied to a network's flat vectors. The state (e.g. Adam's
 * moments) stays with whoever owns the optimizer, across rounds: FedAvg averages weights only.
 */
public final class Optimizer {
    private final GradientUpdater<?> updater;
    /** The updater's whole state (e.g. Adam's two moments) as the flat vector its views live in; null for SGD. */
    private final INDArray state;
    private int iteration;

    public Optimizer(IUpdater config, long numParams) {
        this(config, numParams, DataType.FLOAT);
    }

    /** An optimizer whose state has the precision of the network it steps. */
    public Optimizer(IUpdater config, Network network) {
        this(config, network.numParams(), network.params().dataType());
    }

    private Optimizer(IUpdater config, long numParams, DataType dataType) {
        long stateSize = config.stateSize(numParams);
        this.state = stateSize > 0 ? Nd4j.zeros(dataType, 1, stateSize) : null;
        this.updater = config.instantiate(state, true);
    }

    /**
     * params -= update(grads); the gradient vector is consumed (overwritten with the update). Slots of
     * non-trained state (batch normalisation's running statistics) get no update: their gradient is
     * zero going in (so Adam's moments for them stay zero) and their update is zeroed coming out.
     */
    public void step(Network network) {
        network.discardStateUpdates();
        updater.applyUpdater(network.grads(), iteration++, 0);
        network.discardStateUpdates();
        network.params().subi(network.grads());
        network.zeroGrads();
    }

    public int iterations() {
        return iteration;
    }

    /** The updater's name, e.g. "Adam", "Nesterovs", "Sgd". */
    public String name() {
        return updater.getConfig().getClass().getSimpleName();
    }

    /** A copy of the updater's state vector ([1, stateSize]), or null when it keeps none (SGD). */
    public INDArray state() {
        return state == null ? null : state.dup();
    }

    /**
     * Continues from a saved {@link #state()} and iteration count: the next step is then exactly the one
     * the saved optimizer would have taken. The values are copied into the updater's own views.
     */
    public void restore(INDArray saved, int iterations) {
        if ((saved == null) != (state == null) || (saved != null && saved.length() != state.length())) {
            throw new IllegalArgumentException("optimizer state of " + (saved == null ? 0 : saved.length())
                    + " values does not fit this optimizer's " + (state == null ? 0 : state.length()));
        }
        if (state != null) {
            state.assign(saved.reshape(state.shape()));
        }
        this.iteration = iterations;
    }
}
