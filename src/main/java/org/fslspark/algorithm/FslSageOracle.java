package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Set;

/**
 * A diagnostic, not a deployable algorithm: FSL-SAGE with a perfect estimator. Every minibatch
 * goes up and the client backpropagates the server's exact gradient (per-batch traffic, as in
 * SplitFed-V2), but the server steps only on every q-th, as under FSL-SAGE. It bounds what any
 * auxiliary model could achieve on FSL-SAGE's schedule.
 */
public final class FslSageOracle implements Algorithm {
    private final AlgorithmSettings settings;

    public FslSageOracle(AlgorithmSettings settings) {
        this.settings = settings;
    }

    @Override
    public String name() {
        return "fsl-sage-oracle";
    }

    @Override
    public Flow flow() {
        return Flow.PER_BATCH;
    }

    @Override
    public Set<String> settingsRead() {
        return Set.of("server-interval");
    }

    @Override
    public Set<Part> averaged() {
        return Set.of(Part.CLIENT);
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        SplitLearning.exchangeAndStep(client, batch, k, server);
    }

    @Override
    public INDArray serverStep(Server server, SmashedBatch batch) {
        if (batch.iteration() % settings.serverInterval() == 0) {
            return server.shared(batch.client()).trainOn(batch.activations(), batch.labels()).inputGradient();
        }
        return Alignment.inputGradient(server.shared(batch.client()).network(), batch.activations(), batch.labels());
    }
}
