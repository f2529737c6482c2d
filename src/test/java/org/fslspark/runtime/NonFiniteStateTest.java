package org.fslspark.runtime;

import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Optimizer state that is not finite stops the run, naming the round and who holds it, where the state is collected
 * at a round's end and where it is restored. The realistic case: one huge gradient (1e20) overflows Adam's second
 * moment to infinity while the step itself comes out as zero, so the parameters (which every step checks) stay finite
 * and every later step of that optimizer is zero: training silently stops.
 */
class NonFiniteStateTest {
    @TempDir
    static Path dir;
    private static Experiment experiment;
    private static SplitModel model;

    @BeforeAll
    static void load() {
        experiment = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of("institutes=[osu, umich]",
                "algorithm=splitfed-v2", "data.location=\"" + dir.resolve("data") + "\"", "output=\"" + dir.resolve("out") + "\""));
        model = ModelZoo.split(experiment.model(), experiment.seed());
    }

    /** Round 2 of a run whose tasks return their state, rebuilding what {@code restore} holds. */
    private static RoundPlan plan(Map<String, HeldCopy> restore, Map<String, String> versions) {
        return new RoundPlan("state-" + UUID.randomUUID(), 2, "splitfed-v2", experiment.settings(), experiment.model(),
                experiment.init(), experiment.train().optimizer(), experiment.train().serverOptimizer(), 4, 1,
                experiment.seed(), experiment.institutes(), List.of("", ""), "osu", ServerOrder.CLIENT_BY_CLIENT, Map.of(),
                model.client().params().data().asFloat(), model.server().params().data().asFloat(), Map.of(), TestbedPlan.NONE,
                restore, true, "", 0, 0, versions, List.of(0, 1), Experiment.Faults.NONE, null);
    }

    /** One Adam step on a gradient of 1e20 everywhere: the second moment overflows, the parameters do not move. */
    private static void overflow(Learner l) {
        float[] before = l.network().params().toFloatVector();
        l.network().grads().assign(1e20);
        l.step();
        assertEquals("Adam", l.optimizer().name());
        assertTrue(java.util.Arrays.equals(before, l.network().params().toFloatVector()), "the step moved the parameters");
        assertTrue(l.optimizer().state().toFloatVector()[l.optimizer().state().toFloatVector().length - 1] == Float.POSITIVE_INFINITY);
    }

    @Test
    void anOverflowedOptimizerStopsTheRunWhereItsStateIsCollected() {
        RoundPlan plan = plan(Map.of(), Map.of());
        try {
            Client client = ClientWork.client(plan, plan.rules(), 1);
            overflow(client.model());
            Divergence atClient = assertThrows(Divergence.class, () -> ClientWork.save(plan, client));
            assertTrue(atClient.getMessage().startsWith("diverged in round 2, institute umich (client 1): its training state "
                    + "'client/1/model' is not finite: its optimizer state (Adam, " + 2 * model.client().numParams()
                    + " values) holds Infinity at index " + model.client().numParams()), atClient.getMessage());

            overflow(ServerState.forRound(plan).shared());
            Divergence atServer = assertThrows(Divergence.class, () -> ServerState.save(plan));
            assertTrue(atServer.getMessage().startsWith("diverged in round 2, server site osu: its training state 'server/shared' "
                    + "is not finite: its optimizer state (Adam"), atServer.getMessage());
            // The driver stops the run on it (never retried): it finds the marker in the failed task's error.
            assertTrue(Divergence.in(new IllegalStateException("Job aborted", new RuntimeException(atServer.getMessage()))) != null);
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    @Test
    void aSavedStateThatIsNotFiniteStopsTheRunWhereItIsRestored() {
        Learner saved = new Learner(model.client(), experiment.train().optimizer().toUpdater());
        float[] moments = new float[(int) (2 * model.client().numParams())];
        moments[5] = Float.NaN;
        byte[] frame = FrameCodec.encode(new Message(Message.Type.MODEL, -1, 3, List.of(Tensor.of(Kind.MODEL, saved.network().params()),
                new Tensor(Kind.MODEL, new long[]{1, moments.length}, moments, null))));
        RoundPlan plan = plan(Map.of("client/1/model", HeldCopy.of(frame)), Map.of("client/1", "round 1 on executor 3"));
        try {
            Divergence d = assertThrows(Divergence.class, () -> ClientWork.client(plan, plan.rules(), 1));
            assertTrue(d.getMessage().startsWith("diverged in round 2, institute umich (client 1): its saved training state "
                    + "'client/1', which the round starts from, is not finite: "), d.getMessage());
            assertTrue(d.getMessage().contains("NaN at index 5"), d.getMessage());
        } finally {
            TaskState.clear(plan.runId());
        }
    }
}
