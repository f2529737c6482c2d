package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Set;

/**
 * Vanilla split learning (Gupta and Raskar 2018): clients take turns, each starting from the client
 * weights the previous one left; every minibatch's gradient comes back from the one server model.
 */
public final class SplitLearning implements Algorithm {
    @Override
    public String name() {
        return "sl";
    }

    @Override
    public Flow flow() {
        return Flow.PER_BATCH;
    }

    @Override
    public boolean sequentialClients() {
        return true;
    }

    @Override
    public Set<Part> averaged() {
        return Set.of();
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        exchangeAndStep(client, batch, k, server);
    }

    @Override
    public INDArray serverStep(Server server, SmashedBatch batch) {
        return server.shared(batch.client()).trainOn(batch.activations(), batch.labels()).inputGradient();
    }

    /** The split-learning client step shared by SL and SplitFed: forward, exchange, backpropagate what came back. */
    static void exchangeAndStep(Client client, Batch batch, long k, ServerLink server) {
        // No copy of the activations: the exchange sends them (the transport's copy) before it returns.
        INDArray z = client.model().network().forwardNoCopy(batch.features());
        INDArray g = server.exchange(new SmashedBatch(client.id(), k, z, batch.labels()));
        client.model().backwardAndStep(g);
    }
}
