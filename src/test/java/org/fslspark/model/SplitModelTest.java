package org.fslspark.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whole split models: gradients, exactness of split against unsplit training, the fast path. */
class SplitModelTest {

    private static int[] labels(long seed, int n) {
        return new Random(seed).ints(n, 0, 10).toArray();
    }

    /** dLoss/dParams (client and server) and dLoss/dInput of the whole split model match finite differences. */
    @ParameterizedTest
    @ValueSource(strings = {"simple_conv", "fmnist_cnn"})
    void splitModelGradientsMatchFiniteDifferences(String name) {
        // 8x8 input keeps the double-precision (non-oneDNN) kernels quick; the layers are the zoo's.
        ModelSpec spec = new ModelSpec(name, new long[]{1, 8, 8}, 10, 0);
        SplitModel m = ModelZoo.split(spec, 17, DataType.DOUBLE);
        INDArray x = FiniteDifferences.random(19, 2, 1, 8, 8);
        int[] y = labels(23, 2);
        java.util.function.DoubleSupplier loss =
                () -> CrossEntropy.evaluate(m.server().forward(m.client().forward(x)), y, false).meanLoss();

        m.client().zeroGrads();
        m.server().zeroGrads();
        CrossEntropy.Result r = CrossEntropy.evaluate(m.server().forward(m.client().forward(x)), y, true);
        INDArray gradCut = m.server().backward(r.gradient());
        INDArray gradInput = m.client().backward(gradCut, true);
        INDArray clientGrads = m.client().grads().dup();
        INDArray serverGrads = m.server().grads().dup();

        FiniteDifferences.check("client", m.client().params(), clientGrads,
                FiniteDifferences.parameterProbes(m.client(), 4, 29), loss);
        FiniteDifferences.check("server", m.server().params(), serverGrads,
                FiniteDifferences.parameterProbes(m.server(), 4, 31), loss);
        FiniteDifferences.check("input", x, gradInput, FiniteDifferences.randomProbes(x.length(), 8, 37), loss);
    }

    /**
     * The float (oneDNN) kernels that training runs give the same gradients as the double kernels
     * the finite-difference tests verify, to float accuracy.
     */
    @ParameterizedTest
    @ValueSource(strings = {"simple_conv", "fmnist_cnn"})
    void floatFastPathGradientsMatchDoublePrecisionGradients(String name) {
        ModelSpec spec = new ModelSpec(name, new long[]{1, 28, 28}, 10, 0);
        INDArray xd = FiniteDifferences.random(41, 4, 1, 28, 28);
        int[] y = labels(43, 4);
        INDArray[] f = gradients(ModelZoo.split(spec, 5, DataType.FLOAT), xd.castTo(DataType.FLOAT), y);
        INDArray[] d = gradients(ModelZoo.split(spec, 5, DataType.DOUBLE), xd, y);
        String[] what = {"client", "server", "input"};
        for (int i = 0; i < 3; i++) {
            double rel = f[i].castTo(DataType.DOUBLE).sub(d[i]).norm2Number().doubleValue() / d[i].norm2Number().doubleValue();
            assertTrue(rel < 1e-4, what[i] + " gradient: relative L2 difference float vs double " + rel);
        }
    }

    private static INDArray[] gradients(SplitModel m, INDArray x, int[] y) {
        m.client().zeroGrads();
        m.server().zeroGrads();
        CrossEntropy.Result r = CrossEntropy.evaluate(m.server().forward(m.client().forward(x)), y, true);
        INDArray gradInput = m.client().backward(m.server().backward(r.gradient()), true);
        return new INDArray[]{m.client().grads().dup(), m.server().grads().dup(), gradInput};
    }

    /** 20 Adam steps of client + server on the same batches equal 20 Adam steps of the unsplit model. */
    @ParameterizedTest
    @ValueSource(strings = {"simple_conv", "fmnist_cnn"})
    void splitTrainingEqualsUnsplitTraining(String name) {
        ModelSpec spec = new ModelSpec(name, new long[]{1, 28, 28}, 10, 0);
        SplitModel split = ModelZoo.split(spec, 11);
        Network full = ModelZoo.full(spec, 11);
        Optimizer clientOpt = new Optimizer(new Adam(1e-3), split.client().numParams());
        Optimizer serverOpt = new Optimizer(new Adam(1e-3), split.server().numParams());
        Optimizer fullOpt = new Optimizer(new Adam(1e-3), full.numParams());
        for (int step = 0; step < 20; step++) {
            INDArray x = FiniteDifferences.random(100 + step, 16, 1, 28, 28).castTo(DataType.FLOAT);
            int[] y = labels(200 + step, 16);

            CrossEntropy.Result rs = CrossEntropy.evaluate(split.server().forward(split.client().forward(x)), y, true);
            INDArray gradCut = split.server().backward(rs.gradient());
            serverOpt.step(split.server());
            split.client().backward(gradCut, false);
            clientOpt.step(split.client());

            CrossEntropy.Result rf = CrossEntropy.evaluate(full.forward(x), y, true);
            full.backward(rf.gradient(), false);
            fullOpt.step(full);

            assertEquals(rf.meanLoss(), rs.meanLoss(), 1e-5 * Math.abs(rf.meanLoss()), "loss at step " + step);
        }
        INDArray diff = split.fullParams().sub(full.params());
        double maxAbs = diff.amaxNumber().doubleValue();
        assertTrue(maxAbs < 1e-5, "max |split - unsplit| parameter difference after 20 steps: " + maxAbs);
    }

    @Test
    void trainingLowersTheLossOnAFixedBatch() {
        ModelSpec spec = new ModelSpec("simple_conv", new long[]{1, 28, 28}, 10, 0);
        Network net = ModelZoo.full(spec, 3);
        Optimizer opt = new Optimizer(new Adam(1e-3), net.numParams());
        INDArray x = FiniteDifferences.random(9, 16, 1, 28, 28).castTo(DataType.FLOAT);
        int[] y = labels(10, 16);
        double first = 0;
        double last = 0;
        for (int i = 0; i < 15; i++) {
            CrossEntropy.Result r = CrossEntropy.evaluate(net.forward(x), y, true);
            net.backward(r.gradient(), false);
            opt.step(net);
            first = i == 0 ? r.meanLoss() : first;
            last = r.meanLoss();
        }
        assertTrue(last < 0.85 * first, "loss went from " + first + " to " + last);
    }

    /** Layers reuse buffers internally; what a Network hands out must not change under later calls. */
    @Test
    void networkOutputsStayValidAfterLaterCalls() {
        SplitModel m = ModelZoo.split(new ModelSpec("simple_conv", new long[]{1, 28, 28}, 10, 0), 1);
        INDArray x1 = FiniteDifferences.random(1, 4, 1, 28, 28).castTo(DataType.FLOAT);
        INDArray x2 = FiniteDifferences.random(2, 4, 1, 28, 28).castTo(DataType.FLOAT);
        INDArray cut1 = m.client().forward(x1);
        INDArray cut1Copy = cut1.dup();
        INDArray g1 = m.server().backward(CrossEntropy.evaluate(m.server().forward(cut1), labels(1, 4), true).gradient());
        INDArray g1Copy = g1.dup();
        INDArray cut2 = m.client().forward(x2);
        m.server().backward(CrossEntropy.evaluate(m.server().forward(cut2), labels(2, 4), true).gradient());
        assertEquals(cut1Copy, cut1);
        assertEquals(g1Copy, g1);
    }

    /** A smaller batch (e.g. the last one of an epoch) after a larger one gives the same per-sample outputs. */
    @Test
    void changingTheBatchSizeGivesTheSamePerSampleOutputs() {
        Network net = ModelZoo.full(new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0), 1);
        INDArray x = FiniteDifferences.random(3, 6, 1, 28, 28).castTo(DataType.FLOAT);
        INDArray all = net.forward(x);
        INDArray firstTwo = net.forward(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)).dup());
        assertArrayEquals(new long[]{2, 10}, firstTwo.shape());
        assertTrue(all.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)).equalsWithEps(firstTwo, 1e-5));
    }

    /**
     * The tests run the libnd4j build the POM selects (nd4j.extension, by default -onednn, the fast
     * path); Surefire's argLine passes it as JavaCPP's platform extension. Without that property the
     * oneDNN build is expected, so a run that silently fell back to the plain build fails here.
     */
    @Test
    void theLibnd4jBuildSelectedByThePomIsLoaded() {
        String extension = System.getProperty("org.bytedeco.javacpp.platform.extension", "-onednn");
        String path = Natives.libnd4jPath();
        if (extension.isEmpty()) {
            assertTrue(!path.contains("-onednn") && !path.contains("-avx"), "expected the plain build, loaded " + path);
        } else {
            assertTrue(path.contains(extension + "/"), "expected the " + extension + " build, loaded " + path
                    + " (run the JVM with -Dorg.bytedeco.javacpp.platform.extension=" + extension + ")");
        }
        assertEquals(extension.contains("onednn"), Natives.oneDnn());
    }
}
