package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.PartitionStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.Codecs;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Metered traffic equals the count ALGORITHMS.md gives: per minibatch b x |z| activations and b
 * labels up and (per-batch algorithms) b x |z| gradients down, |x_c| (FedAvg: |x|) each way per
 * client and round, each tensor's bytes as its codec sends them; wire bytes exceed payload by exactly
 * the framing FrameCodec states; traffic.csv names the codec.
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

    /** Rows of traffic.csv keyed "round/institute/direction/kind" to {payload, wire, messages}, and their codec column. */
    private static Map<String, long[]> traffic(java.nio.file.Path out, Map<String, String> codecs) throws Exception {
        Map<String, long[]> rows = new HashMap<>();
        List<String> lines = Files.readAllLines(out.resolve("traffic.csv"));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            String key = f[2] + "/" + f[3] + "/" + f[4] + "/" + f[5];
            rows.put(key, new long[]{Long.parseLong(f[6]), Long.parseLong(f[7]), Long.parseLong(f[8])});
            codecs.put(key, f[9]);
        }
        return rows;
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "sl", "splitfed-v1", "splitfed-v2"})
    void meteredBytesEqualTheAnalyticCount(String algorithm) throws Exception {
        assertAnalyticCount(run(algorithm, 2));
    }

    /**
     * Each codec's byte count on a round of an algorithm: int8 on every data path (FedAvg's models, SplitFed-V2's
     * channel, CSE-FSL's and FSL-SAGE's shuffle; int8:sample on FSL-SAGE's), float16 and bfloat16 on SplitFed-V1,
     * top-k both ways on SL.
     */
    @ParameterizedTest
    @CsvSource({"fedavg, float32, float32, int8", "splitfed-v2, int8, int8, int8", "cse-fsl, int8, float32, int8",
            "fsl-sage, int8:sample, float32, int8", "splitfed-v1, float16, bfloat16, float16", "sl, topk:0.1, topk:0.05, bfloat16"})
    void codecsSendWhatTheirFormulasCount(String algorithm, String activations, String gradients, String models) throws Exception {
        assertAnalyticCount(run(algorithm, 1, "transport.activation-codec=\"" + activations + "\"",
                "transport.gradient-codec=\"" + gradients + "\"", "transport.model-codec=" + models));
    }

    /**
     * What plan-cuts counts on a site's link at the experiment's own cut is what a run meters there, row by row, so its
     * time model sees a run's traffic. CSE-FSL in its second round, the first that sends the averaged head down; FSL-SAGE
     * but for its head, which the planner counts as sent every round and a run sends after each alignment only.
     */
    @ParameterizedTest
    @CsvSource({"fedavg, 0", "sl, 0", "splitfed-v2, 0", "cse-fsl, 1", "fsl-sage, 1"})
    void planCutsCountsWhatARunMeters(String algorithm, int round) throws Exception {
        String codec = "transport.activation-codec=\"int8:sample\"";
        Run run = run(algorithm, round + 1, codec);
        List<String> overrides = new java.util.ArrayList<>(List.of(SETUP));
        overrides.addAll(List.of("algorithm=" + algorithm, codec, "testbed.topology=conf/testbeds/aiedge.conf"));
        Experiment e = Fixtures.experiment(dir, overrides.toArray(String[]::new));
        long[] samples = e.institutes().stream().mapToLong(i -> PartitionStore.describe(new Configuration(),
                new Path(e.data().locationOf(i))).samples()).toArray();
        for (CutPlanner.SitePlan site : CutPlanner.plan(e, samples, 60).sites()) {
            Map<String, String> planned = new java.util.TreeMap<>();
            site.uniform().traffic().forEach(c -> planned.put((c.direction() + "/" + c.kind()).toLowerCase(java.util.Locale.ROOT),
                    java.util.Arrays.toString(new long[]{c.payloadBytes(), c.wireBytes(), c.messages()})));
            String key = round + "/" + site.institute() + "/";
            Map<String, String> metered = new java.util.TreeMap<>();
            run.rows().forEach((k, v) -> {
                if (k.startsWith(key)) {
                    metered.put(k.substring(key.length()), java.util.Arrays.toString(v));
                }
            });
            if (algorithm.equals("fsl-sage")) {
                planned.remove("down/auxiliary_model");
                metered.remove("down/auxiliary_model");
            }
            assertEquals(metered, planned, algorithm + " at " + site.institute());
        }
    }

    private record Run(Experiment e, List<RoundRecord> rounds, Map<String, long[]> rows, Map<String, String> codecs) {
    }

    private static Run run(String algorithm, int rounds, String... codecs) throws Exception {
        java.nio.file.Path out = dir.resolve("out-" + algorithm + "-" + String.join("-", codecs).replaceAll("[^a-z0-9.-]", ""));
        List<String> overrides = new java.util.ArrayList<>(List.of(SETUP));
        overrides.addAll(List.of("algorithm=" + algorithm, "output=\"" + out + "\"", "train.rounds=" + rounds));
        overrides.addAll(List.of(codecs));
        Experiment e = Fixtures.experiment(dir, overrides.toArray(String[]::new));
        List<RoundRecord> records = FederatedTraining.run(e, spark, true, r -> { }).rounds();
        Map<String, String> columns = new HashMap<>();
        return new Run(e, records, traffic(out, columns), columns);
    }

    /**
     * The count of ALGORITHMS.md with each tensor's payload as its codec sends it (Codec.payloadBytes: 4 n float32,
     * 2 n float16/bfloat16, n + 8 rows int8, 4 + 8 k top-k), batch by batch (an epoch's last batch is smaller);
     * one-way clients upload the batches k with k mod q = 0.
     */
    private static void assertAnalyticCount(Run run) {
        Experiment e = run.e();
        Codecs codecs = e.codecs();
        String algorithm = e.algorithm();
        boolean oneWay = algorithm.equals("cse-fsl") || algorithm.equals("fsl-sage");
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        long[] cut = m.cutShape();
        long[] clientShape = {1, m.client().numParams()};
        long[] serverShape = {1, m.server().numParams()};
        int b = e.train().batchSize();
        long modelFraming = FrameCodec.HEADER_BYTES + 3 + 8; // one [1, n] tensor
        long batchFraming = FrameCodec.HEADER_BYTES + 3 + 4L * (cut.length + 1); // [b, cut...]

        for (int round = 0; round < run.rounds().size(); round++) {
            long expectedUp = 0;
            long expectedDown = 0;
            for (String institute : e.institutes()) {
                long n = PartitionStore.describe(new Configuration(), new Path(e.data().locationOf(institute))).samples();
                String key = round + "/" + institute + "/";
                Map<String, long[]> expected = new HashMap<>();
                if (algorithm.equals("fedavg")) {
                    long model = codecs.models().payloadBytes(clientShape) + codecs.models().payloadBytes(serverShape);
                    long wire = model + FrameCodec.HEADER_BYTES + 2 * (3 + 8);
                    expected.put("down/model", new long[]{model, wire, 1});
                    expected.put("up/model", new long[]{model, wire, 1});
                    expectedUp += model;
                    expectedDown += model;
                } else {
                    long client = codecs.models().payloadBytes(clientShape);
                    expected.put("down/model", new long[]{client, client + modelFraming, 1});
                    expected.put("up/model", new long[]{client, client + modelFraming, 1});
                    expectedUp += client;
                    expectedDown += client;
                    if (algorithm.equals("cse-fsl")) {
                        long aux = codecs.models().payloadBytes(new long[]{1, RoundLimits.auxiliaryParams(e.model(), e.settings())});
                        expected.put("up/auxiliary_model", new long[]{aux, aux + 3 + 8, 0});
                        expectedUp += aux;
                    }
                    long uploads = 0;
                    long samples = 0;
                    long activations = 0;
                    long gradients = 0;
                    long batches = (n + b - 1) / b;
                    for (long k = 0; k < batches; k++) {
                        if (oneWay && k % e.settings().serverInterval() != 0) {
                            continue;
                        }
                        long size = Math.min(b, n - k * b);
                        long[] shape = new long[cut.length + 1];
                        shape[0] = size;
                        System.arraycopy(cut, 0, shape, 1, cut.length);
                        uploads++;
                        samples += size;
                        activations += codecs.activations().payloadBytes(shape);
                        gradients += codecs.gradients().payloadBytes(shape);
                    }
                    expected.put("up/activations", new long[]{activations, activations + uploads * batchFraming, uploads});
                    expected.put("up/labels", new long[]{4 * samples, 4 * samples + uploads * (3 + 4), 0});
                    expectedUp += activations;
                    if (!oneWay) {
                        expected.put("down/gradients", new long[]{gradients, gradients + uploads * batchFraming, uploads});
                        expected.put("up/control", new long[]{0, FrameCodec.HEADER_BYTES, 1});
                        expectedDown += gradients;
                    }
                }
                Map<String, long[]> actual = new HashMap<>();
                run.rows().forEach((k, v) -> {
                    if (k.startsWith(key)) {
                        actual.put(k.substring(key.length()), v);
                    }
                });
                assertEquals(expected.keySet(), actual.keySet(), key);
                expected.forEach((kind, count) -> assertArrayEq(count, actual.get(kind)));
            }
            assertEquals(expectedUp, run.rounds().get(round).payloadBytesUp(), "payload up, round " + round);
            assertEquals(expectedDown, run.rounds().get(round).payloadBytesDown(), "payload down, round " + round);
        }
        long total = 0;
        for (RoundRecord r : run.rounds()) {
            total += r.payloadBytesUp() + r.payloadBytesDown();
        }
        assertEquals(total, run.rounds().get(run.rounds().size() - 1).cumulativePayloadBytes());
        run.codecs().forEach((key, codec) -> assertEquals(codecs.column(Kind.valueOf(key.substring(key.lastIndexOf('/') + 1)
                .toUpperCase(java.util.Locale.ROOT))), codec, key));
    }

    private static void assertArrayEq(long[] expected, long[] actual) {
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(actual));
    }
}
