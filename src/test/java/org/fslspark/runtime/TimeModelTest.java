package org.fslspark.runtime;

import com.typesafe.config.ConfigFactory;
import org.fslspark.algorithm.Algorithm.Flow;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.Direction;
import org.fslspark.transport.Kind;
import org.fslspark.transport.TrafficMeter.Count;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The time model against hand-computed values. Site a hosts the server, computes twice as fast as
 * this machine and has a 2 ms, 1 Gbit/s link; site b computes at half speed behind a 100 ms,
 * 8 Mbit/s link (1,000 bytes take 1 ms).
 */
class TimeModelTest {
    static final Topology T = TopologyLoader.parse(ConfigFactory.parseString("""
            server-site = a
            sites { a { compute.relative-speed = 2.0 }, b { compute.relative-speed = 0.5 } }
            links { a { rtt = 2 ms, throughput-mbps = 1000 }, b { rtt = 100 ms, throughput-mbps = 8 } }
            """), "test");
    static final double EPS = 1e-9;

    static TaskReport client(int id, String site, double compute, Count... traffic) {
        return new TaskReport("client", id, site, site, "h", 0, List.of(traffic), 0, compute, Map.of(), Map.of());
    }

    static TaskReport server(double compute) {
        return new TaskReport("server", -1, "a", "a", "h", 0, List.of(), 0, compute, Map.of(), Map.of());
    }

    static Count up(Kind kind, long wire, long messages) {
        return new Count(Direction.UP, kind, wire, wire, messages);
    }

    static Count down(Kind kind, long wire, long messages) {
        return new Count(Direction.DOWN, kind, wire, wire, messages);
    }

    /** a: 4 minibatches, 6,000 bytes, 1 s of compute; b: 2 minibatches, 2,000 bytes, 0.5 s; the server 0.6 s. */
    static final List<TaskReport> PER_BATCH = List.of(
            client(0, "a", 1.0, up(Kind.ACTIVATIONS, 4000, 6), down(Kind.GRADIENTS, 2000, 5)),
            client(1, "b", 0.5, up(Kind.ACTIVATIONS, 1000, 4), down(Kind.GRADIENTS, 1000, 3)),
            server(0.6));

    @Test
    void parallelPerBatchClientsTakeTheSlowestSitesTime() {
        // The server's 0.6 s at speed 2 is 0.3 s, shared 4:2 by batches. a: 5.5 round trips of 2 ms, 48 us on
        // the wire, 1 s / 2, 0.2 s of server work; b: 3.5 round trips of 100 ms, 2 ms, 0.5 s / 0.5, 0.1 s.
        double a = 5.5 * 0.002 + 48e-6 + 0.5 + 0.2;
        double b = 3.5 * 0.1 + 0.002 + 1.0 + 0.1;
        assertEquals(1.452, b, EPS);
        assertEquals(Math.max(a, b), TimeModel.roundSeconds(Flow.PER_BATCH, false, T, "a", PER_BATCH, 0), EPS);
    }

    @Test
    void sequentialClientsTakeTurns() {
        // Half a round trip for the first HELLO, then each turn: (n + 1) round trips, wire, compute, server share.
        double a = 5 * 0.002 + 48e-6 + 0.5 + 0.2;
        double b = 3 * 0.1 + 0.002 + 1.0 + 0.1;
        assertEquals(0.001 + a + b, TimeModel.roundSeconds(Flow.PER_BATCH, true, T, "a", PER_BATCH, 0), EPS);
    }

    @Test
    void aBusyServerBoundsParallelClients() {
        List<TaskReport> reports = List.of(PER_BATCH.get(0), PER_BATCH.get(1), server(10.0));
        // 10 s at speed 2: 5 s, more than a's path (3.84 s with 4/6 of it) and b's (3.02 s with 2/6).
        assertEquals(5.0, TimeModel.roundSeconds(Flow.PER_BATCH, false, T, "a", reports, 0), EPS);
    }

    @Test
    void oneWayUploadsOverlapComputeThenTheServerAndAlignmentStagesFollow() {
        List<TaskReport> reports = List.of(
                client(0, "a", 0.2, down(Kind.MODEL, 2000, 1), up(Kind.ACTIVATIONS, 8000, 3), up(Kind.MODEL, 2000, 1)),
                client(1, "b", 0.5, down(Kind.MODEL, 1000, 1), up(Kind.ACTIVATIONS, 3000, 2), up(Kind.MODEL, 1000, 1)),
                server(0.6));
        // b: a round trip, 1 ms down, max(0.5 s / 0.5, 3 ms of uploads), 1 ms for its model; then 0.3 s of
        // server and the alignment stage, 0.8 s / 2.
        double b = 0.1 + 0.001 + 1.0 + 0.001;
        assertEquals(b + 0.3 + 0.4, TimeModel.roundSeconds(Flow.ONE_WAY, false, T, "a", reports, 0.8), EPS);
        // When the uploads take longer than the compute, the link sets the pace.
        List<TaskReport> linkBound = List.of(reports.get(0),
                client(1, "b", 0.5, down(Kind.MODEL, 1000, 1), up(Kind.ACTIVATIONS, 2_000_000, 2), up(Kind.MODEL, 1000, 1)),
                reports.get(2));
        assertEquals(0.1 + 0.001 + 2.0 + 0.001 + 0.3, TimeModel.roundSeconds(Flow.ONE_WAY, false, T, "a", linkBound, 0), EPS);
    }

    @Test
    void localClientsDownloadComputeAndUpload() {
        List<TaskReport> reports = List.of(client(0, "a", 0.2, down(Kind.MODEL, 2000, 1), up(Kind.MODEL, 2000, 1)),
                client(1, "b", 0.5, down(Kind.MODEL, 1000, 1), up(Kind.MODEL, 1000, 1)));
        assertEquals(0.1 + 0.002 + 1.0, TimeModel.roundSeconds(Flow.LOCAL, false, T, "a", reports, 0), EPS);
    }

    @Test
    void withoutATestbedLinksAreIdealAndSpeedsOne() {
        // a: 1 s + 4/6 of 0.6 s; b: 0.5 s + 2/6 of 0.6 s.
        assertEquals(1.4, TimeModel.roundSeconds(Flow.PER_BATCH, false, null, "a", PER_BATCH, 0), EPS);
        assertEquals(1.5 + 0.6, TimeModel.roundSeconds(Flow.PER_BATCH, true, null, "a", PER_BATCH, 0), EPS);
    }

    @Test
    void clientsTakeTurnsInSlAndWhenTheServerServesClientByClient() throws Exception {
        var settings = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of()).settings();
        java.util.function.BiFunction<String, ServerOrder, Boolean> turns = (name, order) ->
                TimeModel.clientsTakeTurns(Algorithms.byName(name, settings), order);
        for (var order : ServerOrder.values()) {
            assertEquals(true, turns.apply("sl", order), "sl, " + order);
            assertEquals(false, turns.apply("fedavg", order), "fedavg, " + order);
            assertEquals(false, turns.apply("fsl-sage", order), "fsl-sage, " + order);
        }
        // Measured on the test-bed: SplitFed-V2 served client by client took 70 s a round, the parallel model said 30.
        assertEquals(true, turns.apply("splitfed-v2", ServerOrder.CLIENT_BY_CLIENT));
        assertEquals(false, turns.apply("splitfed-v2", ServerOrder.ARRIVAL));
        assertEquals(true, turns.apply("splitfed-v1", ServerOrder.CLIENT_BY_CLIENT));
    }

    @Test
    void theAlignmentStageRunsFromTheFirstAlignersStartToTheLastOnesEnd() {
        // Four aligners on two slots: two waves, the second starting as the first one's tasks end.
        List<AlignmentRound.Result> waves = List.of(aligner(0, 100, 12), aligner(1, 100, 12.5),
                aligner(2, 112, 12), aligner(3, 112.5, 11));
        assertEquals(24.0, AlignmentRound.stageSeconds(waves), EPS);
        assertEquals(0.0, AlignmentRound.stageSeconds(List.of()), EPS);
    }

    private static AlignmentRound.Result aligner(int client, double started, double seconds) {
        return new AlignmentRound.Result(client, null, null, started, seconds, "a", "127.0.0.1", Map.of(), Map.of());
    }
}
