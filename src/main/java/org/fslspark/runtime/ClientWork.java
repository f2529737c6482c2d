package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.ErrorFeedback;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.NonFiniteValueException;
import org.fslspark.transport.TrafficMeter;
import org.fslspark.transport.TransportException;

import java.util.Random;

/** The client side of a round, common to every data path: the local epochs over the site's own data. */
final class ClientWork {
    private ClientWork() {
    }

    /** The client's networks and optimizers, kept in its executor across rounds. */
    static Client client(RoundPlan plan, Algorithm algorithm, int id) {
        return TaskState.held(plan, name(id), () -> {
            SplitModel m = plan.buildModel(id);
            Learner top = algorithm.flow() == Algorithm.Flow.LOCAL
                    ? new Learner(m.server(), plan.clientOptimizer().toUpdater()) : null;
            Learner auxiliary = algorithm.usesAuxiliary()
                    ? new Learner(ServerState.auxiliaryNetwork(plan, id), plan.clientOptimizer().toUpdater()) : null;
            return new Client(id, new Learner(m.client(), plan.clientOptimizer().toUpdater()), top, auxiliary);
        });
    }

    /** The name of client {@code id}'s training state. */
    static String name(int id) {
        return "client/" + id;
    }

    /**
     * The error feedback of the client's top-k activations, kept in its executor across rounds and with its
     * training state (so a rerun of a failed round starts from the round's residual); null unless activations
     * travel top-k.
     */
    static ErrorFeedback feedback(RoundPlan plan, int id) {
        return plan.codecs().sparsifies(Kind.ACTIVATIONS) ? TaskState.held(plan, feedbackName(id), ErrorFeedback::new) : null;
    }

    private static String feedbackName(int id) {
        return "feedback/" + id;
    }

    /** The client's links to the server site outside a channel: metered, charged, in the round's codecs. */
    static ChargedLink link(RoundPlan plan, int id, TrafficMeter meter) {
        return new ChargedLink(meter, plan.link(id), plan.codecs(), feedback(plan, id));
    }

    /** The client's training state for the driver, when the plan asks for it. */
    static java.util.Map<String, HeldCopy> save(RoundPlan plan, Client client) {
        if (!plan.collectState()) {
            return java.util.Map.of();
        }
        java.util.Map<String, HeldState.Encoded> out = HeldState.save(plan, name(client.id()), client);
        ErrorFeedback feedback = feedback(plan, client.id());
        if (feedback != null) {
            HeldState.save(plan, feedbackName(client.id()), feedback, out);
        }
        return HeldCopy.keep(plan, out);
    }

    /** Installs the auxiliary model sent to this client for the round, if any, as a download on its link. */
    static void receiveAuxiliary(RoundPlan plan, Client client, ChargedLink link) {
        byte[] frame = plan.auxiliaryDownloads().get(client.id());
        if (frame != null) {
            // The head comes from the server site's aligner: a frame from another site.
            Message m;
            try {
                m = FrameCodec.decode(frame, RoundLimits.models(RoundLimits.shapes(plan, client.id())));
            } catch (TransportException e) {
                throw new TransportException(RoundLimits.institute(plan, client.id())
                        + ": its auxiliary model: " + e.getMessage(), e);
            }
            link.download(m);
            client.auxiliary().network().setParams(m.tensor(0).toArray());
        }
    }

    /** The client's partition, read once by its own task and kept in its executor. */
    static SiteData data(RoundPlan plan, int id) {
        String institute = plan.institutes().get(id);
        Placement.requireSite(institute, plan.testbed());
        return TaskState.get(plan.runId() + "/data/" + id, () -> {
            SiteData data = SiteData.read(plan.hadoopConf(), plan.dataLocations().get(id), institute);
            if (plan.traced()) {
                Trace.clientData(plan, id, data);
            }
            return data;
        });
    }

    /** The seeded order of a client's minibatches in one local epoch: reproducible, different per round, client, epoch. */
    static Random batchOrder(long seed, int round, int client, int epoch) {
        return new Random(seed * 1_000_003L + round * 7919L + client * 131L + epoch);
    }

    /**
     * Runs E local epochs; k counts local iterations across them from 0. Returns the client's
     * compute seconds: the time in its steps minus the time it spent in the server link (sending,
     * waiting for a gradient).
     */
    static double train(RoundPlan plan, Algorithm algorithm, Client client, SiteData data, ServerLink server) {
        TimedLink timed = new TimedLink(plan, server);
        long k = 0;
        long stepNanos = 0;
        for (int epoch = 0; epoch < plan.localEpochs(); epoch++) {
            int[][] batches = data.epoch(plan.batchSize(), batchOrder(plan.seed(), plan.round(), client.id(), epoch));
            if (plan.traced()) {
                Trace.order(plan, client.id(), epoch, batches);
            }
            for (int[] indices : batches) {
                FaultHook.beforeClientStep(plan, client.id(), k);
                long start = System.nanoTime();
                algorithm.clientStep(client, data.batch(indices), k, timed);
                stepNanos += System.nanoTime() - start;
                requireFinite(plan, client, k);
                k++;
            }
        }
        return Math.max(0, stepNanos - timed.nanos) / 1e9;
    }

    /**
     * A non-finite loss or gradient leaves non-finite parameters after the step: checked on the parts the client
     * uploads (x_c, FedAvg's top) with one sum each, so the divergence is named at its minibatch whether or not
     * the step sent anything (activations and gradients that cross a link are checked as frames anyway).
     */
    private static void requireFinite(RoundPlan plan, Client client, long k) {
        for (java.util.Map.Entry<String, Learner> part : client.learners().entrySet()) {
            if (!part.getKey().equals("auxiliary") && !Double.isFinite(part.getValue().network().params().sumNumber().doubleValue())) {
                throw new Divergence(Divergence.MARKER + plan.round() + ", " + RoundLimits.institute(plan, client.id())
                        + ", minibatch " + k + ": its " + part.getKey() + " parameters are not finite after the step", null);
            }
        }
    }

    /**
     * A server link that counts the time spent in it, where debug.nan alters what is sent, and where a batch its
     * codec refuses to send stops the run as diverged, naming the client and the batch.
     */
    private static final class TimedLink implements ServerLink {
        private final RoundPlan plan;
        private final ServerLink link;
        private long nanos;

        TimedLink(RoundPlan plan, ServerLink link) {
            this.plan = plan;
            this.link = link;
        }

        @Override
        public org.nd4j.linalg.api.ndarray.INDArray exchange(org.fslspark.algorithm.SmashedBatch batch) {
            long start = System.nanoTime();
            try {
                return link.exchange(FaultHook.sent(plan, batch));
            } catch (NonFiniteValueException n) {
                throw unsendable(batch, n);
            } finally {
                nanos += System.nanoTime() - start;
            }
        }

        @Override
        public void upload(org.fslspark.algorithm.SmashedBatch batch) {
            long start = System.nanoTime();
            try {
                link.upload(FaultHook.sent(plan, batch));
            } catch (NonFiniteValueException n) {
                throw unsendable(batch, n);
            } finally {
                nanos += System.nanoTime() - start;
            }
        }

        /** A codec other than float32 refuses to send what the server would refuse: the client diverged at this batch. */
        private Divergence unsendable(org.fslspark.algorithm.SmashedBatch batch, NonFiniteValueException n) {
            return Divergence.of(plan.round(), RoundLimits.institute(plan, batch.client()), batch.iteration(), n);
        }
    }
}
