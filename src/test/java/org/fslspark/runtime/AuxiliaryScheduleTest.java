package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameCodec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CSE-FSL and FSL-SAGE over several rounds: uploads, server updates, alignments and auxiliary
 * downloads happen exactly as often as q, l, E and the data sizes say, with the bytes that follow;
 * alignment improves the estimate on held-out batches of the real split model; and a run is
 * reproducible from its seed.
 *
 * Two institutes of 150 samples, b = 32 (5 minibatches an epoch, the last of 22), E = 2: local
 * iterations k = 0..9 a round, uploads at k = 0, 3, 6, 9 (q = 3) of 32 + 32 + 32 + 22 = 118 samples.
 */
class AuxiliaryScheduleTest {
    static SparkSession spark;
    @TempDir
    static java.nio.file.Path dir;
    static String[] SETUP;
    static final long UPLOADED = 118;

    @BeforeAll
    static void start() throws Exception {
        // Counts and bytes do not depend on the test set: 200 images keep evaluation short.
        SETUP = new String[]{"institutes=[osu, iitb]", "data.train-subset=300", "data.partition.scheme=iid",
                "train.rounds=4", "train.batch-size=32", "train.local-epochs=2", "server-interval=3",
                "alignment.interval=2", "alignment.epochs=20", Fixtures.smallTestSet(dir.resolve("test"), 200)};
        spark = Fixtures.spark();
        Fixtures.prepare(Fixtures.experiment(dir, SETUP));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static java.nio.file.Path run(String algorithm, String name) {
        java.nio.file.Path out = dir.resolve(name);
        FederatedTraining.run(Fixtures.experiment(dir, EndToEndTest.concat(SETUP, "algorithm=" + algorithm,
                "output=\"" + out + "\"")), spark, true, r -> { });
        return out;
    }

    /** CSV rows keyed by the given columns, the other columns as values. */
    private static Map<String, String[]> rows(java.nio.file.Path file, int keyColumns) throws Exception {
        Map<String, String[]> rows = new HashMap<>();
        List<String> lines = Files.readAllLines(file);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            rows.put(String.join("/", Arrays.copyOfRange(f, 2, keyColumns)), f);
        }
        return rows;
    }

    private static void assertTraffic(Map<String, String[]> traffic, String key, long payload, long wire, long messages) {
        String[] row = traffic.get(key);
        assertTrue(row != null, "no traffic row " + key + " in " + traffic.keySet());
        assertEquals(List.of(payload, wire, messages),
                List.of(Long.parseLong(row[6]), Long.parseLong(row[7]), Long.parseLong(row[8])), key);
    }

    @Test
    void fslSageCountsAndBytesFollowTheSchedule() throws Exception {
        Experiment e = Fixtures.experiment(dir, SETUP);
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        long cut = 64 * 7 * 7;
        long clientBytes = m.client().numParams() * 4;
        long auxBytes = (cut * 10 + 10) * 4;
        long frame = FrameCodec.HEADER_BYTES + 3 + 8;
        long smashedFraming = FrameCodec.HEADER_BYTES + 3 + 16;

        java.nio.file.Path out = run("fsl-sage", "sage-a");
        Map<String, String[]> traffic = rows(out.resolve("traffic.csv"), 6);
        for (int t = 0; t < 4; t++) {
            for (String institute : e.institutes()) {
                String k = t + "/" + institute + "/";
                assertTraffic(traffic, k + "up/activations", UPLOADED * cut * 4, UPLOADED * cut * 4 + 4 * smashedFraming, 4);
                assertTraffic(traffic, k + "up/labels", UPLOADED * 4, UPLOADED * 4 + 4 * (3 + 4), 0);
                assertTraffic(traffic, k + "down/model", clientBytes, clientBytes + frame, 1);
                assertTraffic(traffic, k + "up/model", clientBytes, clientBytes + frame, 1);
                // l = 2: round 0 has nothing to align on, so round 1 aligns, then round 2; not round 3.
                boolean aligned = t == 1 || t == 2;
                assertEquals(aligned, traffic.containsKey(k + "down/auxiliary_model"), k);
                if (aligned) {
                    assertTraffic(traffic, k + "down/auxiliary_model", auxBytes, auxBytes + frame, 1);
                }
                assertTrue(!traffic.containsKey(k + "down/gradients"), "FSL-SAGE returns no gradient");
            }
        }
        // Every upload stepped the server and joined the buffer: the fit holds the whole buffer.
        Map<String, String[]> alignment = rows(out.resolve("alignment.csv"), 4);
        assertEquals(4, alignment.size());
        for (String institute : e.institutes()) {
            assertEquals(UPLOADED, Long.parseLong(alignment.get("1/" + institute)[4]));
            assertEquals(2 * UPLOADED, Long.parseLong(alignment.get("2/" + institute)[4]));
            for (int t = 1; t <= 2; t++) {
                String[] a = alignment.get(t + "/" + institute);
                assertTrue(Double.parseDouble(a[7]) < Double.parseDouble(a[5]),
                        "alignment did not lower the error on the newest batch: " + String.join(",", a));
            }
        }

        // Same seed, same config: the same tables, timing columns (measured and modelled) aside.
        java.nio.file.Path again = run("fsl-sage", "sage-b");
        int[] timing = java.util.stream.Stream.of("round_seconds", "cumulative_seconds", "modelled_seconds",
                "cumulative_modelled_seconds").mapToInt(List.of(RoundRecord.COLUMNS)::indexOf).toArray();
        assertEquals(withoutTiming(out.resolve("rounds.csv"), timing), withoutTiming(again.resolve("rounds.csv"), timing));
        assertEquals(Files.readAllLines(out.resolve("traffic.csv")), Files.readAllLines(again.resolve("traffic.csv")));
        assertEquals(withoutTiming(out.resolve("alignment.csv"), 10), withoutTiming(again.resolve("alignment.csv"), 10));
    }

    @Test
    void cseFslCountsAndBytesFollowTheSchedule() throws Exception {
        Experiment e = Fixtures.experiment(dir, SETUP);
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        long cut = 64 * 7 * 7;
        long clientBytes = m.client().numParams() * 4;
        long auxBytes = (cut * 10 + 10) * 4;
        long frame = FrameCodec.HEADER_BYTES + 3 + 8;
        java.nio.file.Path out = run("cse-fsl", "cse");
        Map<String, String[]> traffic = rows(out.resolve("traffic.csv"), 6);
        for (int t = 0; t < 4; t++) {
            for (String institute : e.institutes()) {
                String k = t + "/" + institute + "/";
                assertTraffic(traffic, k + "up/activations", UPLOADED * cut * 4,
                        UPLOADED * cut * 4 + 4 * (FrameCodec.HEADER_BYTES + 3 + 16), 4);
                // The model upload carries x_c and a_i in one message.
                assertTraffic(traffic, k + "up/model", clientBytes, clientBytes + frame, 1);
                assertTraffic(traffic, k + "up/auxiliary_model", auxBytes, auxBytes + 3 + 8, 0);
                // The averaged head goes down from round 1 on (round 0 starts from the common seeded head).
                assertEquals(t > 0, traffic.containsKey(k + "down/auxiliary_model"), k);
                if (t > 0) {
                    assertTraffic(traffic, k + "down/auxiliary_model", auxBytes, auxBytes + frame, 1);
                }
            }
        }
        assertTrue(!Files.exists(out.resolve("alignment.csv")));
    }

    @Test
    void warmStartRunsRoundZeroAsCseFsl() throws Exception {
        java.nio.file.Path out = dir.resolve("warm");
        FederatedTraining.run(Fixtures.experiment(dir, EndToEndTest.concat(SETUP, "algorithm=fsl-sage", "warm-start=true",
                "train.rounds=3", "output=\"" + out + "\"")), spark, true, r -> { });
        Map<String, String[]> traffic = rows(out.resolve("traffic.csv"), 6);
        for (String institute : List.of("osu", "iitb")) {
            // Round 0 follows CSE-FSL: the head goes up to be averaged, nothing comes down.
            assertTrue(traffic.containsKey("0/" + institute + "/up/auxiliary_model"));
            assertTrue(!traffic.containsKey("0/" + institute + "/down/auxiliary_model"));
            // Round 1 is FSL-SAGE's: the averaged head comes down, none goes up. CSE-FSL filled no
            // alignment buffer, so the first alignment waits for round 2, and sends a_i down again.
            for (int t = 1; t <= 2; t++) {
                assertEquals(1, Long.parseLong(traffic.get(t + "/" + institute + "/down/auxiliary_model")[8]));
                assertTrue(!traffic.containsKey(t + "/" + institute + "/up/auxiliary_model"));
            }
        }
        Map<String, String[]> alignment = rows(out.resolve("alignment.csv"), 4);
        assertEquals(java.util.Set.of("2/osu", "2/iitb"), alignment.keySet());
    }

    private static List<String> withoutTiming(java.nio.file.Path csv, int... columns) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(csv)) {
            String[] f = line.split(",");
            for (int c : columns) {
                f[c] = "";
            }
            out.add(String.join(",", f));
        }
        return out;
    }
}
