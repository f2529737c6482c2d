package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Set;

/**
 * SplitFed-V1 (Thapa et al. 2022, "SFL-MS"): clients run in parallel, the server keeps one copy
 * of its part per client; both the client models and the server copies are averaged each round.
 */
public final class SplitFedV1 implements Algorithm {
    @Override
    public String name() {
        return "splitfed-v1";
    }

    @Override
    public Flow flow() {
        return Flow.PER_BATCH;
    }

    @Override
    public Set<Part> averaged() {
        return Set.of(Part.CLIENT, Part.SERVER);
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        SplitLearning.exchangeAndStep(client, batch, k, server);
    }

    @Override
    public INDArray serverStep(Server server, SmashedBatch batch) {
        return server.copyFor(batch.client()).trainOn(batch.activations(), batch.labels()).inputGradient();
    }
}
