package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Set;

/**
 * SplitFed-V2 (Thapa et al. 2022, "SFL-SS"): clients run in parallel against one shared server
 * model, stepped after each minibatch in the order the server takes them; client models are
 * averaged each round.
 */
public final class SplitFedV2 implements Algorithm {
    @Override
    public String name() {
        return "splitfed-v2";
    }

    @Override
    public Flow flow() {
        return Flow.PER_BATCH;
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
        return server.shared(batch.client()).trainOn(batch.activations(), batch.labels()).inputGradient();
    }
}
