package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.PartitionStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameCodec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Metered traffic equals the count ALGORITHMS.md gives: per minibatch b x |z| activations and b
 * labels up and (per-batch algorithms) b x |z| gradients down, |x_c| (FedAvg: |x|) each way per
 * client and round; wire bytes exceed payload by exactly the framing FrameCodec states.
 */
class TrafficAccountingTest {
    static SparkSession spark;
    @TempDir
    static java.nio.file.Path dir;
    private static String[] SETUP;

    @BeforeAll
    static void start() throws Exception {
        // Byte counts do not depend on the test set: 200 images keep evaluation short.
        SETUP = new String[]{"institutes=[osu, iitb]", "data.train-subset=300", "train.rounds=2",
                "train.batch-size=32", "data.partition.scheme=iid", Fixtures.smallTestSet(dir.resolve("test"), 200)};
        spark = Fixtures.spark();
        Fixtures.prepare(Fixtures.experiment(dir, SETUP));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Rows of traffic.csv keyed "round/institute/direction/kind" to {payload, wire, messages}. */
    private static Map<String, long[]> traffic(java.nio.file.Path out) throws Exception {
        Map<String, long[]> rows = new HashMap<>();
        List<String> lines = Files.readAllLines(out.resolve("traffic.csv"));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            rows.put(f[2] + "/" + f[3] + "/" + f[4] + "/" + f[5],
                    new long[]{Long.parseLong(f[6]), Long.parseLong(f[7]), Long.parseLong(f[8])});
        }
        return rows;
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "sl", "splitfed-v1", "splitfed-v2"})
    void meteredBytesEqualTheAnalyticCount(String algorithm) throws Exception {
        java.nio.file.Path out = dir.resolve("out-" + algorithm);
        List<String> overrides = new java.util.ArrayList<>(List.of(SETUP));
        overrides.addAll(List.of("algorithm=" + algorithm, "output=\"" + out + "\""));
        Experiment e = Fixtures.experiment(dir, overrides.toArray(String[]::new));
        List<RoundRecord> rounds = FederatedTraining.run(e, spark, true, r -> { }).rounds();
        Map<String, long[]> rows = traffic(out);

        SplitModel m = ModelZoo.split(e.model(), e.seed());
        long cut = 1;
        for (long d : m.cutShape()) {
            cut *= d;
        }
        long clientBytes = m.client().numParams() * 4;
        long serverBytes = m.server().numParams() * 4;
        int b = e.train().batchSize();
        long modelFrame = FrameCodec.HEADER_BYTES + 3 + 8; // one [1, n] tensor
        long activationFraming = FrameCodec.HEADER_BYTES + 3 + 4 * 4; // [b, 64, 7, 7]

        for (int round = 0; round < 2; round++) {
            long expectedUp = 0;
            long expectedDown = 0;
            for (String institute : e.institutes()) {
                long n = PartitionStore.describe(new Configuration(), new Path(e.data().locationOf(institute))).samples();
                long batches = (n + b - 1) / b;
                String key = round + "/" + institute + "/";
                if (algorithm.equals("fedavg")) {
                    long model = clientBytes + serverBytes;
                    long wire = model + FrameCodec.HEADER_BYTES + 2 * (3 + 8);
                    assertArrayEq(new long[]{model, wire, 1}, rows.get(key + "down/model"));
                    assertArrayEq(new long[]{model, wire, 1}, rows.get(key + "up/model"));
                    String prefix = round + "/";
                    assertEquals(4, rows.keySet().stream().filter(k -> k.startsWith(prefix)).count());
                    expectedUp += model;
                    expectedDown += model;
                    continue;
                }
                long activations = n * cut * 4;
                assertArrayEq(new long[]{activations, activations + batches * activationFraming, batches}, rows.get(key + "up/activations"));
                assertArrayEq(new long[]{n * 4, n * 4 + batches * (3 + 4), 0}, rows.get(key + "up/labels"));
                assertArrayEq(new long[]{activations, activations + batches * activationFraming, batches}, rows.get(key + "down/gradients"));
                assertArrayEq(new long[]{clientBytes, clientBytes + modelFrame, 1}, rows.get(key + "down/model"));
                assertArrayEq(new long[]{clientBytes, clientBytes + modelFrame, 1}, rows.get(key + "up/model"));
                assertArrayEq(new long[]{0, FrameCodec.HEADER_BYTES, 1}, rows.get(key + "up/control"));
                expectedUp += activations + clientBytes;
                expectedDown += activations + clientBytes;
            }
            assertEquals(expectedUp, rounds.get(round).payloadBytesUp(), "payload up, round " + round);
            assertEquals(expectedDown, rounds.get(round).payloadBytesDown(), "payload down, round " + round);
        }
        assertEquals(rounds.get(0).payloadBytesUp() + rounds.get(0).payloadBytesDown() + rounds.get(1).payloadBytesUp()
                + rounds.get(1).payloadBytesDown(), rounds.get(1).cumulativePayloadBytes());
    }

    private static void assertArrayEq(long[] expected, long[] actual) {
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(actual));
    }
}
