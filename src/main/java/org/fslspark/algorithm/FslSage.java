package org.fslspark.algorithm;

import org.fslspark.model.Network;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.Set;

/**
 * FSL-SAGE (Nair et al. 2025): the client backpropagates the gradient its auxiliary model
 * estimates instead of waiting for the server's; every q-th smashed batch goes up, steps the
 * server and joins the client's alignment buffer; every l rounds the server fits each auxiliary
 * model so that its input-gradient imitates the server's, and sends it down. Only client models
 * are averaged.
 */
public final class FslSage implements Algorithm {
    /**
     * Activation values the server takes at once when it computes alignment targets. Its workspace grows
     * with them: a whole 1000-sample buffer through simple_conv's second convolution (cut = 4) needs
     * gigabytes (its im2col buffer alone is 1.25 GB). Chunks give the same targets up to rounding.
     */
    static final long TARGET_CHUNK_VALUES = 1 << 22;

    private final AlgorithmSettings settings;

    public FslSage(AlgorithmSettings settings) {
        this.settings = settings;
    }

    @Override
    public String name() {
        return "fsl-sage";
    }

    @Override
    public Flow flow() {
        return Flow.ONE_WAY;
    }

    @Override
    public Set<String> settingsRead() {
        return Set.of("server-interval", "auxiliary", "alignment", "warm-start");
    }

    @Override
    public boolean usesAuxiliary() {
        return true;
    }

    @Override
    public Set<Part> averaged() {
        return Set.of(Part.CLIENT);
    }

    @Override
    public void clientStep(Client client, Batch batch, long k, ServerLink server) {
        INDArray z = client.model().forward(batch.features());
        // grad of the batch-mean loss: per-sample / b, the scale the server's gradient would have.
        client.model().backwardAndStep(Alignment.inputGradient(client.auxiliary().network(), z, batch.labels()));
        if (k % settings.serverInterval() == 0) {
            server.upload(new SmashedBatch(client.id(), k, z, batch.labels()));
        }
    }

    @Override
    public INDArray serverStep(Server server, SmashedBatch batch) {
        server.shared(batch.client()).trainOn(batch.activations(), batch.labels());
        server.buffer(batch.client()).add(batch);
        return null;
    }

    /** At the start of rounds t with t mod l == 0; round 0's alignment waits until the buffer holds data. */
    @Override
    public boolean alignsAt(int round, boolean alignedBefore) {
        return round % settings.alignInterval() == 0 || !alignedBefore;
    }

    /**
     * Refreshes the targets with the current server model and fits a_i for E_align epochs on the
     * whole buffer. The estimate's quality is measured on the newest uploaded batch: before the fit
     * it is a batch the head has not been fitted on; after, it is part of the fit.
     */
    /**
     * With batch norm a sample's target depends on the samples beside it (the batch statistics), so each is the
     * server's gradient in the minibatch it was uploaded with, as the server would return it.
     */
    private static INDArray targetsPerUpload(Network top, AlignmentBuffer buffer, SmashedBatch fit) {
        INDArray targets = fit.activations().ulike();
        long at = 0;
        for (SmashedBatch b : buffer.batches()) {
            long n = b.activations().size(0);
            targets.get(NDArrayIndex.interval(at, at + n)).assign(Alignment.perSampleInputGradient(top, b.activations(), b.labels()));
            at += n;
        }
        return targets;
    }

    @Override
    public AlignmentReport align(Server server, int client) {
        // The server's copy of a_i exists from the first alignment round on, even with nothing to fit yet,
        // so it starts from the head the client holds (a warm start's average).
        Learner aux = server.auxiliary(client);
        AlignmentBuffer buffer = server.buffer(client);
        SmashedBatch held = buffer.newest();
        SmashedBatch fit = buffer.contents();
        if (fit == null) {
            return null;
        }
        Network top = server.shared(client).network();
        Alignment.Quality before = Alignment.quality(aux.network(), top, held);
        int n = (int) fit.activations().size(0);
        int targetsPerSample = fit.labels().length / n; // a sequence has one target per position
        int batch = settings.alignBatchSize() <= 0 ? n : Math.min(n, settings.alignBatchSize());
        long valuesPerSample = fit.activations().length() / n;
        int chunk = (int) Math.max(1, Math.min(batch, TARGET_CHUNK_VALUES / valuesPerSample));
        INDArray targets = top.hasState() ? targetsPerUpload(top, buffer, fit)
                : Alignment.perSampleInputGradient(top, fit.activations(), fit.labels(), chunk);
        double loss = 0;
        Alignment.Fit fitter = new Alignment.Fit(aux.network(), server.auxiliaryInDouble(client), settings.epsilon());
        for (int epoch = 0; epoch < settings.alignEpochs(); epoch++) {
            for (int start = 0; start < n; start += batch) {
                int end = Math.min(n, start + batch);
                loss = fitter.lossAndGradient(rows(fit.activations(), start, end),
                        Arrays.copyOfRange(fit.labels(), start * targetsPerSample, end * targetsPerSample),
                        rows(targets, start, end));
                aux.step();
            }
        }
        return new AlignmentReport(client, n, before, Alignment.quality(aux.network(), top, held), loss);
    }

    private static INDArray rows(INDArray a, int start, int end) {
        return start == 0 && end == a.size(0) ? a : a.get(NDArrayIndex.interval(start, end)).dup();
    }
}
