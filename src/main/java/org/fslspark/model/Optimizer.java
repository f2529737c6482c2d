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
        INDArray state = stateSize > 0 ? Nd4j.zeros(dataType, 1, stateSize) : null;
        this.updater = config.instantiate(state, true);
    }

    /** params -= update(grads); the gradient vector is consumed (overwritten with the update). */
    public void step(Network network) {
        updater.applyUpdater(network.grads(), iteration++, 0);
        network.params().subi(network.grads());
        network.zeroGrads();
    }

    public int iterations() {
        return iteration;
    }
}
