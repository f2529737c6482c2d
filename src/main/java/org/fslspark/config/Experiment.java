package org.fslspark.config;

import org.fslspark.algorithm.AlgorithmSettings;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.model.ModelInit;
import org.fslspark.model.ModelSpec;
import org.fslspark.testbed.Topology;
import org.fslspark.transport.Codecs;
import org.fslspark.transport.Tls;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * An experiment: the typed, validated value of a config file plus overrides. Built once by
 * {@link ExperimentLoader}; nothing below the command line reads raw config.
 *
 * <p>{@code model}'s cut is every institute's when they share one; when {@code model.cut} gives institutes
 * different cuts (docs/CUTS.md), it is the shallowest of them, where the global model is split, and {@code cuts}
 * holds each institute's cut, in the order of {@code institutes}, in the model's cut units. {@code cuts} is empty
 * when every institute cuts at {@code model}'s cut.
 */
public record Experiment(
        String name,
        long seed,
        String algorithm,
        AlgorithmSettings settings,
        ModelSpec model,
        ModelInit init,
        List<Integer> cuts,
        List<String> institutes,
        String serverSite,
        Data data,
        Train train,
        Stop stop,
        String output,
        Spark spark,
        Testbed testbed,
        Checkpointing checkpoint,
        Faults fault,
        String trace,
        Security security,
        Codecs codecs,
        String resolvedConfig) implements Serializable {

    /** Whether institutes cut the model at different layers. */
    public boolean perSiteCuts() {
        return !cuts.isEmpty();
    }

    /** The model as institute {@code client} (its index in {@code institutes}) cuts it. */
    public ModelSpec modelOf(int client) {
        return cuts.isEmpty() ? model : model.withCut(cuts.get(client));
    }

    /**
     * Round checkpoints of the training state under {@code <output>/state}.
     *
     * @param interval write one after every {@code interval}-th round (and the last); 0 = never
     * @param keep     how many of the newest complete ones to keep (>= 1)
     * @param writer   who writes what the executors hold: "executors", "driver" or "auto" (executors when they
     *                 share the location's file system with the driver)
     */
    public record Checkpointing(int interval, int keep, String writer) implements Serializable {
        public boolean enabled() {
            return interval > 0;
        }
    }

    /**
     * What a run does when a round fails, and the test-only fault hooks.
     *
     * @param roundAttempts attempts of a round before the run stops with the last error (>= 1)
     * @param fail          debug.fail: where a task throws on a round's first attempt, or null
     * @param nan           debug.nan: where a client's sent activations get a NaN, or null
     * @param refuse        debug.refuse: where a client sends activations of a wrong shape (a frame the server
     *                      refuses), or null
     * @param forget        debug.forget: the round before whose first attempt every executor forgets the run's state
     *                      (as a fresh executor would), or -1
     * @param minInstitutes fault.min-institutes: the fewest institutes a round proceeds with when sites are lost
     *                      (resolved: the number of institutes when the key says 0)
     * @param siteTimeoutSeconds fault.site-timeout: how long a site's executors may be gone before rounds proceed
     *                      without it
     * @param absent        debug.absent: a client that sits one round out in local mode, as an institute whose site is
     *                      lost for that round ({@code batch} unused), or null
     * @param roundTimeoutSeconds fault.round-timeout: how long an attempt at a round may run before it is cancelled and
     *                      counts as failed; {@link #AUTO} = ten times the slowest round so far, at least ten minutes
     * @param stall         debug.stall: where a task waits, on a round's first attempt, until Spark cancels it, or null
     */
    public record Faults(int roundAttempts, FaultPoint fail, FaultPoint nan, FaultPoint refuse, int forget, int minInstitutes,
                         double siteTimeoutSeconds, FaultPoint absent, double roundTimeoutSeconds, FaultPoint stall)
            implements Serializable {
        /** fault.round-timeout = auto. */
        public static final double AUTO = -1;
        public static final Faults NONE = new Faults(1, null, null, null, -1, Integer.MAX_VALUE, 60, null, AUTO, null);
    }

    /**
     * A point of a round where a test injects a fault: client {@code client}'s local iteration {@code batch}, or
     * ({@code client} = -1) the server's {@code batch}-th step of the round.
     */
    public record FaultPoint(int client, int round, long batch) implements Serializable {
        public boolean server() {
            return client < 0;
        }
    }

    /**
     * @param siteLocations where a site's share lives when its test-bed site names a location
     *                      (topology {@code sites.<id>.data}); other institutes use {@code location}/&lt;id&gt;
     */
    public record Data(String dataset, String format, List<String> train, List<String> test, int classes,
                       String scheme, double alpha, String column, int trainSubset, String location,
                       String tokenizer, int context, String delimiter, double testFraction,
                       Map<String, String> siteLocations)
            implements Serializable {

        /** Whether the experiment is a language model on token sequences ({@code data.format = text}). */
        public boolean isText() {
            return "text".equals(format);
        }

        /** Where an institute's prepared share lives. */
        public String locationOf(String institute) {
            String own = siteLocations.get(institute);
            return own != null ? own : location.replaceAll("/+$", "") + "/" + institute;
        }

        /** Where the prepared test set lives. */
        public String testLocation() {
            return locationOf("_test");
        }
    }

    public record Train(int rounds, int localEpochs, int batchSize, OptimizerSpec optimizer,
                        OptimizerSpec serverOptimizer, boolean uniformWeights, ServerOrder serverOrder,
                        int evalBatchSize) implements Serializable {
    }

    /**
     * Mutual TLS on the links between sites.
     *
     * @param tls       where the keys are; null = plain TCP
     * @param warnPlain TLS is off because the config said {@code security.require-tls = false}: warn every round
     */
    public record Security(Tls.KeyFiles tls, boolean warnPlain) implements Serializable {
        public boolean enabled() {
            return tls != null;
        }
    }

    public record Stop(long trafficBudgetBytes, double targetAccuracy) implements Serializable {
    }

    public record Spark(String master, Map<String, String> conf) implements Serializable {
    }

    /**
     * The test-bed the experiment runs on, if any.
     *
     * @param topologyFile        the topology file as configured ("" for none)
     * @param topology            the federation, null without a test-bed
     * @param emulateLinks        impose the topology's links on the traffic between sites
     * @param executorWaitSeconds on a cluster, how long to wait for every site to have a live executor
     */
    public record Testbed(String topologyFile, Topology topology, boolean emulateLinks, double executorWaitSeconds)
            implements Serializable {

        public boolean enabled() {
            return topology != null;
        }

        /** Whether messages between sites cross emulated links. */
        public boolean emulatesLinks() {
            return topology != null && emulateLinks;
        }
    }
}
