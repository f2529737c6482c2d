package org.fslspark.algorithm;

import java.util.Set;

/** FedAvg (McMahan et al. 2017): each client trains the whole model locally; the server averages. */
public final class FedAvg implements Algorithm {
    @Override
    public String name() {
        return "fedavg";
    }

    @Override
    public Flow flow() {
        return Flow.LOCAL;
    }

    @Override
    public Set<Part> averaged() {
        return Set.of(Part.CLIENT, Part.SERVER);
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        Learner.Step top = client.top().trainOn(client.model().forward(batch.features()), batch.labels());
        client.model().backwardAndStep(top.inputGradient());
    }
}
