package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A round whose stage fails is rerun from the state it started with: with a failure injected (debug.fail) in a
 * client task and, separately, in the server task at a seeded minibatch of round 2, the run completes with every
 * round once and ends bitwise as the run without a fault (rounds.csv but its times, traffic.csv but its retry
 * rows, the model), for SplitFed-V2 (per-batch channel, barrier stage) and FSL-SAGE (one-way shuffle, alignment
 * at round 2, rerun too; Spark's own retry of the failed task refuses to run). A NaN in a client's activations (debug.nan) stops the run naming round, institute and
 * minibatch; a resume without the hook ends as the run without it.
 */
@Tag("e2e")
class FaultToleranceTest {
    static SparkSession spark;
    @TempDir
    static Path dir;
    static String[] setup;
    /** round_seconds, cumulative_seconds, modelled_seconds, cumulative_modelled_seconds: measured, so they differ. */
    static final List<Integer> TIME_COLUMNS = List.of(12, 13, 15, 16);
    /** Two clients of 60 samples in minibatches of 20: local iterations 0..2 per round. */
    static final int BATCHES = 3;
    static final Map<String, FederatedTraining.Summary> BASELINES = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        setup = new String[]{"institutes=[osu, iitb]", "data.train-subset=120", "data.partition.scheme=iid",
                "train.batch-size=20", "train.server-order=client-by-client", "server-interval=2", "alignment.interval=2",
                "alignment.epochs=3", "train.rounds=3", Fixtures.smallTestSet(dir.resolve("test"), 200)};
        // Spark retries a failed task once (local[N,F]): the task's retry must refuse to run on the state the failed
        // try left, so that the driver reruns the round (a barrier stage is not retried by Spark at all).
        spark = Sparks.session(org.fslspark.config.ExperimentLoader.load(null, List.of("spark.master=\"local[5,2]\"")));
        Fixtures.prepare(Fixtures.experiment(dir, setup));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static FederatedTraining.Summary train(String algorithm, Path out, FederatedTraining.Start start, String... more) {
        List<String> overrides = new ArrayList<>(List.of(setup));
        overrides.addAll(List.of("algorithm=" + algorithm, "output=\"" + out + "\""));
        overrides.addAll(List.of(more));
        return FederatedTraining.run(Fixtures.experiment(dir, overrides.toArray(String[]::new)), spark, start, r -> { });
    }

    /** The run without a fault, once per algorithm. */
    private static Path baseline(String algorithm) {
        Path out = dir.resolve(algorithm + "-clean");
        BASELINES.computeIfAbsent(algorithm, a -> train(a, out, FederatedTraining.Start.OVERWRITE));
        return out;
    }

    static List<String> rowsWithoutTimes(Path csv) throws Exception {
        List<String> rows = new ArrayList<>();
        for (String line : Files.readAllLines(csv)) {
            String[] f = line.split(",", -1);
            for (int c : TIME_COLUMNS) {
                f[c] = "";
            }
            rows.add(String.join(",", f));
        }
        return rows;
    }

    private static List<String> traffic(Path out, boolean retry) throws Exception {
        return Files.readAllLines(out.resolve("traffic.csv")).stream()
                .filter(l -> l.startsWith("experiment,") || l.contains("," + FederatedTraining.RETRY + ",") == retry).toList();
    }

    /** The faulty run ended as the clean one: every round once, rounds.csv but its times, traffic.csv but retries, the model. */
    private static void assertEndsAsClean(String algorithm, Path out, FederatedTraining.Summary faulty) throws Exception {
        Path clean = baseline(algorithm);
        FederatedTraining.Summary expected = BASELINES.get(algorithm);
        assertEquals(List.of(0, 1, 2), faulty.rounds().stream().map(r -> r.round()).toList());
        assertEquals(rowsWithoutTimes(clean.resolve("rounds.csv")), rowsWithoutTimes(out.resolve("rounds.csv")));
        assertEquals(traffic(clean, false), traffic(out, false));
        assertArrayEquals(expected.clientParams().toFloatVector(), faulty.clientParams().toFloatVector());
        assertArrayEquals(expected.serverParams().toFloatVector(), faulty.serverParams().toFloatVector());
        assertArrayEquals(Files.readAllBytes(clean.resolve("model/params.f32")), Files.readAllBytes(out.resolve("model/params.f32")));
    }

    /** The faulty run ended as the clean one; its round 2 was retried once, and only round 2 has retry traffic. */
    private static void assertSameAsClean(String algorithm, Path out, FederatedTraining.Summary faulty, String institute,
                                          boolean barrier)
            throws Exception {
        assertEndsAsClean(algorithm, out, faulty);
        List<String> retries = traffic(out, true);
        assertTrue(retries.size() > 1, "retry rows: " + retries);
        assertTrue(retries.stream().skip(1).allMatch(l -> l.split(",")[2].equals("2")), "retry rows of round 2 only: " + retries);
        List<String> events = Files.readAllLines(out.resolve("events.csv"));
        assertEquals(2, events.size(), "one event: " + events);
        assertTrue(events.get(1).startsWith("2," + institute + ",retried,"), events.get(1));
        // A barrier stage's report quotes whichever task Spark saw fail first: the injected one or a peer of it. Other
        // stages' tasks were retried by Spark, and the retry refused to run.
        String reason = events.get(1).substring(("2," + institute + ",retried,").length());
        assertTrue(reason.contains(barrier ? institute : "Spark retried"), events.get(1));
        // The rerun's tasks are the ones reported, once per round.
        assertEquals(faulty.tasks().stream().filter(r -> r.round() == 1 && !r.report().role().equals("aligner")).count(),
                faulty.tasks().stream().filter(r -> r.round() == 2 && !r.report().role().equals("aligner")).count());
    }

    private static void clientAndServerFailuresAreRerun(String algorithm, int serverSteps) throws Exception {
        Random seeded = new Random(15);
        int k = seeded.nextInt(BATCHES);
        Path clientOut = dir.resolve(algorithm + "-client-fault");
        FederatedTraining.Summary s = train(algorithm, clientOut, FederatedTraining.Start.OVERWRITE,
                "debug.fail=\"client:1:round:2:batch:" + k + "\"");
        assertSameAsClean(algorithm, clientOut, s, "iitb", algorithm.equals("splitfed-v2"));
        int n = seeded.nextInt(serverSteps);
        Path serverOut = dir.resolve(algorithm + "-server-fault");
        s = train(algorithm, serverOut, FederatedTraining.Start.OVERWRITE, "debug.fail=\"server:round:2:batch:" + n + "\"");
        assertSameAsClean(algorithm, serverOut, s, "osu", algorithm.equals("splitfed-v2"));
    }

    @Test
    void splitFedV2RerunsAFailedRoundExactly() throws Exception {
        // Every minibatch of both clients reaches the server.
        clientAndServerFailuresAreRerun("splitfed-v2", 2 * BATCHES);
    }

    @Test
    void fslSageRerunsAFailedRoundAndItsAlignmentExactly() throws Exception {
        // server-interval = 2: iterations 0 and 2 of each client reach the server.
        clientAndServerFailuresAreRerun("fsl-sage", 4);
        assertTrue(Files.readAllLines(dir.resolve("fsl-sage-server-fault/alignment.csv")).stream().anyMatch(l -> l.contains(",2,")),
                "round 2 aligns, before the failed stage and again in the rerun");
    }

    /**
     * An executor that lost the run's state between rounds (debug.forget: as a task that moved to a fresh executor
     * would find it) fails the round's first attempt naming the missing state, and the rerun from the driver's copy
     * ends exactly as the undisturbed run: clients' and server's optimizers, FSL-SAGE's buffers and learners.
     */
    @Test
    void aTaskThatFindsItsStateMissingFailsAndTheRerunIsExact() throws Exception {
        for (String algorithm : List.of("splitfed-v2", "fsl-sage")) {
            Path out = dir.resolve(algorithm + "-forgotten");
            FederatedTraining.Summary s = train(algorithm, out, FederatedTraining.Start.OVERWRITE, "debug.forget=\"round:2\"");
            assertEndsAsClean(algorithm, out, s);
            List<String> events = Files.readAllLines(out.resolve("events.csv"));
            assertEquals(2, events.size(), "one event: " + events);
            // FSL-SAGE's aligners are ordinary tasks: Spark's report quotes its own retry, which refused to run.
            assertTrue(events.get(1).startsWith("2,") && events.get(1).contains(",retried,")
                    && events.get(1).contains(algorithm.equals("fsl-sage") ? "Spark retried the alignment"
                    : TaskState.HeldStateLostException.MARKER), events.get(1));
        }
    }

    /**
     * A round that neither runs nor fails (debug.stall: a task waits at a point of round 2 until Spark cancels it) is
     * cancelled at its deadline (fault.round-timeout) and rerun, and the run ends as the run without it: a stalled client
     * of SplitFed-V2's barrier stage, a stalled server of FSL-SAGE's one-way round.
     */
    @Test
    void aRoundPastItsDeadlineIsCancelledAndRerunExactly() throws Exception {
        Map<String, String> stalls = Map.of("splitfed-v2", "client:1:round:2:batch:1", "fsl-sage", "server:round:2:batch:1");
        for (String algorithm : List.of("splitfed-v2", "fsl-sage")) {
            Path out = dir.resolve(algorithm + "-stalled");
            long start = System.nanoTime();
            FederatedTraining.Summary s = train(algorithm, out, FederatedTraining.Start.OVERWRITE,
                    "debug.stall=\"" + stalls.get(algorithm) + "\"", "fault.round-timeout=15s");
            assertTrue((System.nanoTime() - start) / 1e9 >= 15, "the stalled attempt waited for its deadline");
            assertEndsAsClean(algorithm, out, s);
            List<String> events = Files.readAllLines(out.resolve("events.csv"));
            assertEquals(2, events.size(), "one event: " + events);
            assertTrue(events.get(1).startsWith("2,,retried,the attempt did not finish within 15 s (fault.round-timeout)"),
                    events.get(1));
        }
    }

    /**
     * A client whose frame the per-batch server refuses (debug.refuse: activations of a wrong shape) drops out of that
     * round alone: the round completes with the other institute, recorded (participants, a refused-frame event naming
     * the check), and the next round takes it back from the driver's copy of its state, without a rerun.
     */
    @Test
    void aClientWhoseFrameIsRefusedDropsOutOfThatRoundOnly() throws Exception {
        Path out = dir.resolve("refused");
        FederatedTraining.Summary s = train("splitfed-v2", out, FederatedTraining.Start.OVERWRITE,
                "debug.refuse=\"client:1:round:1:batch:1\"");
        assertEquals(List.of("osu;iitb", "osu", "osu;iitb"), s.rounds().stream().map(r -> r.participants()).toList());
        List<String> events = Files.readAllLines(out.resolve("events.csv"));
        assertEquals(2, events.size(), "one event, no rerun: " + events);
        assertTrue(events.get(1).startsWith("1,iitb,refused-frame,") && events.get(1).contains("ACTIVATIONS shape"), events.get(1));
        // Round 0 is the undisturbed run's; round 1 averages osu's client part alone.
        assertEquals(rowsWithoutTimes(baseline("splitfed-v2").resolve("rounds.csv")).subList(0, 2),
                rowsWithoutTimes(out.resolve("rounds.csv")).subList(0, 2));
        assertTrue(s.rounds().get(2).testAccuracy() > 0.1, "the run goes on: " + s.rounds().get(2));
    }

    /**
     * A codec that cannot carry what training produces is the run's divergence: with a learning rate of 1e3 the first
     * Adam step makes the client's weights about 1e3, its next activations leave float16's range (65504), and the
     * client's link refuses to send them: the run stops as diverged, naming round, institute, minibatch and codec, at
     * once (the server learns why its client stopped, so no task's failure reads as an ordinary one to rerun).
     */
    @Test
    void aCodecThatCannotCarryTheActivationsStopsTheRunAsDiverged() throws Exception {
        Path out = dir.resolve("float16");
        Divergence d = assertThrows(Divergence.class, () -> train("splitfed-v2", out, FederatedTraining.Start.OVERWRITE,
                "transport.activation-codec=float16", "train.optimizer.learning-rate=1000", "train.rounds=1"));
        assertTrue(d.getMessage().startsWith("diverged in round 0, institute osu (client 0), minibatch 1: ")
                && d.getMessage().contains("as float16"), d.getMessage());
        List<String> events = Files.readAllLines(out.resolve("events.csv"));
        assertTrue(events.size() == 2 && events.get(1).startsWith("0,osu,diverged,"), events.toString());
    }

    /**
     * CSE-FSL and FSL-SAGE, whose uploads reach the server site through the shuffle: a client whose upload the server
     * site refuses (debug.refuse at iitb's second upload of the round, after its first passed the checks) sits that
     * round out exactly, and nothing else is lost. The run ends bitwise as one where iitb's site is lost for that round
     * alone (debug.absent): the same accuracy, loss and participants every round, the same model and the same training
     * state in the last checkpoint (every optimizer, FSL-SAGE's buffers and server-side heads). So the server stepped
     * on none of iitb's uploads of the round (FSL-SAGE: nor buffered them), the averages left it out, its client state
     * and the server's alignment of its head in the round were discarded, and it took part again the round after from
     * the driver's copy (CSE-FSL, refused in round 0: from a fresh client, as there was no copy). Recorded as one
     * refused-frame event naming the check, with no rerun.
     */
    @Test
    void aOneWayClientWhoseUploadIsRefusedSitsThatRoundOutExactly() throws Exception {
        refusedRoundEqualsAbsentRound("cse-fsl", 0, 2);
        // FSL-SAGE aligns iitb's head at the start of round 1 (its buffer holds round 0's uploads), before the refusal.
        refusedRoundEqualsAbsentRound("fsl-sage", 1, 3);
    }

    private static void refusedRoundEqualsAbsentRound(String algorithm, int round, int rounds) throws Exception {
        String length = "train.rounds=" + rounds;
        // server-interval = 2: iitb uploads at iterations 0 and 2; the second is refused.
        Path refusedOut = dir.resolve(algorithm + "-refused");
        FederatedTraining.Summary refused = train(algorithm, refusedOut, FederatedTraining.Start.OVERWRITE, length,
                "debug.refuse=\"client:1:round:" + round + ":batch:2\"");
        Path absentOut = dir.resolve(algorithm + "-absent");
        FederatedTraining.Summary absent = train(algorithm, absentOut, FederatedTraining.Start.OVERWRITE, length,
                "debug.absent=\"client:1:round:" + round + "\"");

        List<String> participants = new ArrayList<>(java.util.Collections.nCopies(rounds, "osu;iitb"));
        participants.set(round, "osu");
        assertEquals(participants, refused.rounds().stream().map(r -> r.participants()).toList(), algorithm);
        List<String> events = Files.readAllLines(refusedOut.resolve("events.csv"));
        assertEquals(2, events.size(), algorithm + ": one event, no rerun: " + events);
        assertTrue(events.get(1).startsWith(round + ",iitb,refused-frame,\"institute iitb (client 1): ")
                && events.get(1).contains("ACTIVATIONS shape"), events.get(1));
        assertEquals(List.of(round + ",iitb,lost", round + 1 + ",iitb,rejoined"),
                Files.readAllLines(absentOut.resolve("events.csv")).stream().skip(1)
                        .map(l -> String.join(",", java.util.Arrays.copyOf(l.split(","), 3))).toList(), algorithm);

        assertEquals(columns(absentOut, "round", "test_accuracy", "test_loss", "participants"),
                columns(refusedOut, "round", "test_accuracy", "test_loss", "participants"), algorithm);
        assertArrayEquals(absent.clientParams().toFloatVector(), refused.clientParams().toFloatVector(), algorithm);
        assertArrayEquals(absent.serverParams().toFloatVector(), refused.serverParams().toFloatVector(), algorithm);
        Map<String, byte[]> held = heldState(absentOut, rounds - 1);
        assertTrue(held.keySet().containsAll(List.of("global.frame", "executors/client/1/model.frame")), held.keySet().toString());
        assertEquals(held.keySet(), heldState(refusedOut, rounds - 1).keySet(), algorithm);
        heldState(refusedOut, rounds - 1).forEach((name, bytes) -> assertArrayEquals(held.get(name), bytes, algorithm + " " + name));
        // iitb's refused round is metered: it sent its uploads and its model.
        assertTrue(refused.rounds().get(round).payloadBytesUp() > absent.rounds().get(round).payloadBytesUp(), algorithm);
    }

    /** The frames of a run's checkpoint after round {@code t}: the global model and what the executors hold, by path. */
    private static Map<String, byte[]> heldState(Path out, int t) throws Exception {
        Path state = out.resolve("state/round-" + t);
        Map<String, byte[]> frames = new java.util.TreeMap<>();
        try (var files = Files.walk(state)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".frame")).toList()) {
                frames.put(state.relativize(f).toString(), Files.readAllBytes(f));
            }
        }
        return frames;
    }

    /** The named columns of a run's rounds.csv, row by row. */
    private static List<List<String>> columns(Path out, String... names) throws Exception {
        List<String> lines = Files.readAllLines(out.resolve("rounds.csv"));
        List<String> header = List.of(lines.get(0).split(",", -1));
        List<List<String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            rows.add(java.util.Arrays.stream(names).map(n -> f[header.indexOf(n)]).toList());
        }
        return rows;
    }

    @Test
    void aNanInActivationsStopsTheRunNamingWhereAndResumeContinues() throws Exception {
        Path out = dir.resolve("nan");
        Divergence d = assertThrows(Divergence.class, () -> train("splitfed-v2", out, FederatedTraining.Start.OVERWRITE,
                "debug.nan=\"client:0:round:1:batch:2\""));
        assertTrue(d.getMessage().contains("round 1") && d.getMessage().contains("institute osu (client 0)")
                && d.getMessage().contains("minibatch 2"), d.getMessage());
        assertTrue(Files.exists(out.resolve("state/round-0/" + RoundCheckpoints.MARKER)));
        assertFalse(Files.exists(out.resolve("state/round-1")), "no state after the diverged round");
        assertEquals(2, Files.readAllLines(out.resolve("rounds.csv")).size(), "header and round 0");
        List<String> events = Files.readAllLines(out.resolve("events.csv"));
        assertTrue(events.size() == 2 && events.get(1).startsWith("1,osu,diverged,"), events.toString());
        // Not retried: a divergence is the same on every attempt.
        FederatedTraining.Summary resumed = train("splitfed-v2", out, FederatedTraining.Start.RESUME);
        Path clean = baseline("splitfed-v2");
        assertEquals(rowsWithoutTimes(clean.resolve("rounds.csv")), rowsWithoutTimes(out.resolve("rounds.csv")));
        assertArrayEquals(BASELINES.get("splitfed-v2").clientParams().toFloatVector(), resumed.clientParams().toFloatVector());
        assertArrayEquals(Files.readAllBytes(clean.resolve("model/params.f32")), Files.readAllBytes(out.resolve("model/params.f32")));
    }
}
