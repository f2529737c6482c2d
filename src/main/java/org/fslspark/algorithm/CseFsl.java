package org.fslspark.algorithm;

import java.util.Set;

/**
 * CSE-FSL (Mu and Shen 2023): each client trains its part on the loss of its own auxiliary head
 * and uploads every q-th smashed batch; the server steps on what arrives and returns nothing.
 * Client models and auxiliary heads are averaged each round.
 */
public final class CseFsl implements Algorithm {
    private final AlgorithmSettings settings;

    public CseFsl(AlgorithmSettings settings) {
        this.settings = settings;
    }

    @Override
    public String name() {
        return "cse-fsl";
    }

    @Override
    public Flow flow() {
        return Flow.ONE_WAY;
    }

    @Override
    public Set<String> settingsRead() {
        return Set.of("server-interval", "auxiliary");
    }

    @Override
    public boolean usesAuxiliary() {
        return true;
    }

    @Override
    public Set<Part> averaged() {
        return Set.of(Part.CLIENT, Part.AUXILIARY);
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        var z = client.model().forward(batch.features());
        Learner.Step local = client.auxiliary().trainOn(z, batch.labels());
        client.model().backwardAndStep(local.inputGradient());
        if (k % settings.serverInterval() == 0) {
            server.upload(new SmashedBatch(client.id(), k, z, batch.labels()));
        }
    }

    @Override
    public org.nd4j.linalg.api.ndarray.INDArray serverStep(Server server, SmashedBatch batch) {
        server.shared(batch.client()).trainOn(batch.activations(), batch.labels());
        return null;
    }
}
