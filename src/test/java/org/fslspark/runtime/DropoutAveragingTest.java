package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithms;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * A round without some institutes averages over its participants only, with the weights renormalised over them:
 * institutes osu (100 samples) and iitb (300) of three, utaustin lost, average 1/4 and 3/4 (uniform: 1/2 each),
 * checked against the hand computation for FedAvg's whole model and SplitFed-V1's client part and server copies; SL
 * hands on the last participant's client part.
 */
class DropoutAveragingTest {
    static final List<Integer> PARTICIPANTS = List.of(0, 2);
    static final long[] SAMPLES = {100, 0, 300};

    private static Experiment experiment(String algorithm, String... more) {
        List<String> overrides = new java.util.ArrayList<>(List.of("institutes=[osu, utaustin, iitb]", "algorithm=" + algorithm));
        overrides.addAll(List.of(more));
        return ExperimentLoader.load(null, overrides);
    }

    private static INDArray random(long n, int seed) {
        Random r = new Random(seed);
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat() - 0.5f;
        }
        return Nd4j.create(v, new long[]{1, v.length}, 'c');
    }

    private static byte[] frame(INDArray... parts) {
        Tensor[] tensors = java.util.Arrays.stream(parts).map(p -> Tensor.of(Kind.MODEL, p)).toArray(Tensor[]::new);
        return FrameCodec.encode(Message.of(Message.Type.MODEL, -1, 0, tensors));
    }

    /** What each participant returned: its client part (and FedAvg's top, or the server's copy for it). */
    private static Map<Integer, INDArray[]> uploads(SplitModel m) {
        Map<Integer, INDArray[]> out = new HashMap<>();
        for (int i : PARTICIPANTS) {
            out.put(i, new INDArray[]{random(m.client().numParams(), 10 + i), random(m.server().numParams(), 20 + i)});
        }
        return out;
    }

    private static float[] expected(Map<Integer, INDArray[]> uploads, int part, double w0, double w2) {
        float[] a = uploads.get(0)[part].data().asFloat();
        float[] b = uploads.get(2)[part].data().asFloat();
        float[] out = new float[a.length];
        for (int k = 0; k < a.length; k++) {
            out[k] = (float) (w0 * a[k] + w2 * b[k]);
        }
        return out;
    }

    private static TaskReport client(int i, Map<String, byte[]> models) {
        return new TaskReport("client", i, "x", "x", "h", SAMPLES[i], List.of(), 0, 0, models, Map.of());
    }

    private static void assertClose(float[] expected, INDArray actual) {
        float[] a = actual.data().asFloat();
        assertEquals(expected.length, a.length);
        for (int k = 0; k < a.length; k++) {
            assertEquals(expected[k], a[k], 1e-6f + 1e-6f * Math.abs(expected[k]), "parameter " + k);
        }
    }

    @Test
    void fedAvgWeightsAreRenormalisedOverTheParticipants() {
        for (String weights : List.of("samples", "uniform")) {
            Experiment e = experiment("fedavg", "train.weights=" + weights);
            SplitModel m = ModelZoo.split(e.model(), e.seed());
            Map<Integer, INDArray[]> up = uploads(m);
            List<TaskReport> reports = PARTICIPANTS.stream().map(i -> client(i, Map.of("client/" + i, frame(up.get(i))))).toList();
            INDArray[] next = Aggregation.aggregate(Algorithms.byName("fedavg", e.settings()), e, PARTICIPANTS, reports,
                    m.client().params(), m.server().params());
            double w0 = weights.equals("samples") ? 0.25 : 0.5;
            assertClose(expected(up, 0, w0, 1 - w0), next[0]);
            assertClose(expected(up, 1, w0, 1 - w0), next[1]);
            assertNull(next[2]);
        }
    }

    @Test
    void splitFedV1AveragesTheParticipantsClientPartsAndServerCopies() {
        Experiment e = experiment("splitfed-v1");
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        Map<Integer, INDArray[]> up = uploads(m);
        Map<String, byte[]> server = new HashMap<>();
        for (int i : PARTICIPANTS) {
            server.put("client/" + i, frame(up.get(i)[0]));
            server.put("server/" + i, frame(up.get(i)[1]));
        }
        List<TaskReport> reports = List.of(client(0, Map.of()), client(2, Map.of()),
                new TaskReport("server", -1, "osu", "osu", "h", 0, List.of(), 0, 0, server, Map.of()));
        INDArray[] next = Aggregation.aggregate(Algorithms.byName("splitfed-v1", e.settings()), e, PARTICIPANTS, reports,
                m.client().params(), m.server().params());
        assertClose(expected(up, 0, 0.25, 0.75), next[0]);
        assertClose(expected(up, 1, 0.25, 0.75), next[1]);
    }

    @Test
    void splitLearningHandsOnTheLastParticipantsClientPart() {
        Experiment e = experiment("sl");
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        Map<Integer, INDArray[]> up = uploads(m);
        List<TaskReport> reports = List.of(client(0, Map.of()), client(2, Map.of()),
                new TaskReport("server", -1, "osu", "osu", "h", 0, List.of(), 0, 0,
                        Map.of("client/2", frame(up.get(2)[0]), "server", frame(up.get(2)[1])), Map.of()));
        INDArray[] next = Aggregation.aggregate(Algorithms.byName("sl", e.settings()), e, PARTICIPANTS, reports,
                m.client().params(), m.server().params());
        assertArrayEquals(up.get(2)[0].data().asFloat(), next[0].data().asFloat());
        assertArrayEquals(up.get(2)[1].data().asFloat(), next[1].data().asFloat());
    }
}
