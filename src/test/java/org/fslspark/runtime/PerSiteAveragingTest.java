package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithms;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.model.CutLayout;
import org.fslspark.model.ModelZoo;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * docs/CUTS.md's averaging rule against hand computation. fmnist_cnn's four layers with parameters: conv1 (320),
 * conv2 (18,496), dense1 (401,536), dense2 (1,290); osu cuts after conv1's block (cut 3), utaustin after conv2's
 * (6), iitb after dense1 (8); 100, 100 and 200 samples: weights 1/4, 1/4, 1/2. Every copy a site or the server
 * returns holds one value everywhere (osu's 1, utaustin's 2, iitb's 4, the server's shared part 8), so each layer's
 * expected value is a short sum.
 */
class PerSiteAveragingTest {
    static final long[] SAMPLES = {100, 100, 200};
    static final long CONV1 = 320;
    static final long CONV2 = 18_496;
    static final long DENSE1 = 401_536;
    static final long DENSE2 = 1_290;

    private static Experiment experiment(String algorithm, String cuts) {
        return ExperimentLoader.load(null, List.of("institutes=[osu, utaustin, iitb]", "algorithm=" + algorithm, "model.cut=" + cuts));
    }

    private static byte[] constant(long n, float value) {
        return constant(Kind.MODEL, n, value);
    }

    private static byte[] constant(Kind kind, long n, float value) {
        return FrameCodec.encode(Message.of(Message.Type.MODEL, -1, 0, Tensor.of(kind, Nd4j.valueArrayOf(new long[]{1, n}, value))));
    }

    private static TaskReport client(int i) {
        return new TaskReport("client", i, "x", "x", "h", SAMPLES[i], List.of(), 0, 0, Map.of(), Map.of());
    }

    private static INDArray[] aggregate(Experiment e, List<Integer> participants, Map<String, byte[]> server) {
        CutLayout layout = Aggregation.layout(e, ModelZoo.split(e.model(), e.seed()));
        List<TaskReport> reports = new ArrayList<>(participants.stream().map(PerSiteAveragingTest::client).toList());
        reports.add(new TaskReport("server", -1, "osu", "osu", "h", 0, List.of(), 0, 0, server, Map.of()));
        return Aggregation.aggregate(Algorithms.byName(e.algorithm(), e.settings()), e, layout, participants, reports,
                Nd4j.zeros(1, CONV1), Nd4j.zeros(1, CONV2 + DENSE1 + DENSE2), null);
    }

    /** What the clients returned: each its own part, of its own cut's size. */
    private static Map<String, byte[]> clients() {
        Map<String, byte[]> m = new HashMap<>();
        m.put("client/0", constant(CONV1, 1));
        m.put("client/1", constant(CONV1 + CONV2, 2));
        m.put("client/2", constant(CONV1 + CONV2 + DENSE1, 4));
        return m;
    }

    /** {@code actual} holds runs of the given lengths and values, in order. */
    private static void assertRuns(INDArray actual, long[] lengths, double[] values) {
        float[] a = actual.data().asFloat();
        assertEquals(java.util.Arrays.stream(lengths).sum(), a.length);
        int k = 0;
        for (int run = 0; run < lengths.length; run++) {
            for (long j = 0; j < lengths[run]; j++, k++) {
                assertEquals(values[run], a[k], 1e-6, "run " + run + ", parameter " + k);
            }
        }
    }

    @Test
    void splitFedV2AveragesEachLayerOverTheSitesThatHoldItAndTheServersShare() {
        Map<String, byte[]> returned = clients();
        returned.put("server", constant(CONV2 + DENSE1 + DENSE2, 8));
        INDArray[] next = aggregate(experiment("splitfed-v2", "{osu = 3, utaustin = 6, iitb = 8}"), List.of(0, 1, 2), returned);
        // conv1: every site's own; conv2: utaustin's and iitb's, and the server's for osu;
        // dense1: iitb's, and the server's for osu and utaustin; dense2: the server's alone.
        assertRuns(next[0], new long[]{CONV1}, new double[]{0.25 * 1 + 0.25 * 2 + 0.5 * 4});
        assertRuns(next[1], new long[]{CONV2, DENSE1, DENSE2}, new double[]{0.25 * 8 + 0.25 * 2 + 0.5 * 4, 0.5 * 8 + 0.5 * 4, 8});
    }

    @Test
    void aLayerNoParticipantsBatchesReachedAtTheServerIsTheirOwnAverage() {
        Map<String, byte[]> returned = clients();
        returned.put("server", constant(CONV2 + DENSE1 + DENSE2, 8));
        // osu is lost: no batch entered the server's conv2, which utaustin and iitb hold themselves (1/3 and 2/3).
        INDArray[] next = aggregate(experiment("splitfed-v2", "{osu = 3, utaustin = 6, iitb = 8}"), List.of(1, 2), returned);
        assertRuns(next[0], new long[]{CONV1}, new double[]{2 / 3.0 + 8 / 3.0});
        assertRuns(next[1], new long[]{CONV2, DENSE1, DENSE2}, new double[]{2 / 3.0 + 8 / 3.0, 8 / 3.0 + 8 / 3.0, 8});
    }

    @Test
    void splitFedV1AveragesEachSitesOwnServerCopy() {
        Map<String, byte[]> returned = clients();
        returned.put("server/0", constant(CONV2 + DENSE1 + DENSE2, 16));
        returned.put("server/1", constant(DENSE1 + DENSE2, 32));
        returned.put("server/2", constant(DENSE2, 64));
        returned.put("server", constant(CONV2 + DENSE1 + DENSE2, 0));
        INDArray[] next = aggregate(experiment("splitfed-v1", "{osu = 3, utaustin = 6, iitb = 8}"), List.of(0, 1, 2), returned);
        assertRuns(next[0], new long[]{CONV1}, new double[]{2.75});
        assertRuns(next[1], new long[]{CONV2, DENSE1, DENSE2},
                new double[]{0.25 * 16 + 0.25 * 2 + 0.5 * 4, 0.25 * 16 + 0.25 * 32 + 0.5 * 4, 0.25 * 16 + 0.25 * 32 + 0.5 * 64});
    }

    /** SL averages nothing: x_c as the last client handed it back (the server kept its layers between cuts), x_s the server's. */
    @Test
    void splitLearningHandsOnTheLayersEveryClientHoldsAndTheServersPart() {
        Map<String, byte[]> returned = new HashMap<>();
        returned.put("client/2", constant(CONV1, 4));
        returned.put("server", constant(CONV2 + DENSE1 + DENSE2, 8));
        INDArray[] next = aggregate(experiment("sl", "{osu = 3, utaustin = 6, iitb = 8}"), List.of(0, 1, 2), returned);
        assertRuns(next[0], new long[]{CONV1}, new double[]{4});
        assertRuns(next[1], new long[]{CONV2, DENSE1, DENSE2}, new double[]{8, 8, 8});
    }

    @Test
    void cseFslAveragesOneAuxiliaryHeadPerCut() {
        Experiment e = experiment("cse-fsl", "{osu = 3, default = 6}");
        Map<String, byte[]> returned = new HashMap<>();
        returned.put("client/0", constant(CONV1, 1));
        returned.put("client/1", constant(CONV1 + CONV2, 2));
        returned.put("client/2", constant(CONV1 + CONV2, 4));
        returned.put("server", constant(CONV2 + DENSE1 + DENSE2, 8));
        // Linear heads on [32, 14, 14] (osu) and [64, 7, 7] (the others).
        long osuHead = 32 * 14 * 14 * 10 + 10;
        long otherHead = 64 * 7 * 7 * 10 + 10;
        returned.put("auxiliary/0", constant(Kind.AUXILIARY_MODEL, osuHead, 1));
        returned.put("auxiliary/1", constant(Kind.AUXILIARY_MODEL, otherHead, 2));
        returned.put("auxiliary/2", constant(Kind.AUXILIARY_MODEL, otherHead, 4));
        INDArray[] next = aggregate(e, List.of(0, 1, 2), returned);
        assertRuns(next[0], new long[]{CONV1}, new double[]{2.75});
        assertRuns(next[1], new long[]{CONV2, DENSE1, DENSE2}, new double[]{0.25 * 8 + 0.25 * 2 + 0.5 * 4, 8, 8});
        assertRuns(next[2], new long[]{osuHead, otherHead}, new double[]{1, 2 / 3.0 + 8 / 3.0});
        CutLayout layout = Aggregation.layout(e, ModelZoo.split(e.model(), e.seed()));
        assertRuns(Aggregation.head(e, layout, next[2], 2), new long[]{otherHead}, new double[]{2 / 3.0 + 8 / 3.0});
        assertRuns(Aggregation.head(e, layout, next[2], 0), new long[]{osuHead}, new double[]{1});
    }
}
