package org.fslspark.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Map;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The zoo's GPT as a whole: gradients, the cut, causality, split against unsplit training, its spec. */
class GptTest {
    /** Tiny enough for finite differences in DOUBLE: vocabulary 11, context 6, width 8, 2 blocks of 2 heads. */
    private static final ModelSpec TINY = ModelSpec.gpt(11, 6, 8, 2, 2, 1);

    /** Token ids [batch, time] as floats, the features of a language-model batch. */
    static INDArray tokens(long seed, int batch, int time, int vocab, DataType type) {
        Random rng = new Random(seed);
        double[][] ids = new double[batch][time];
        for (double[] row : ids) {
            for (int j = 0; j < time; j++) {
                row[j] = rng.nextInt(vocab);
            }
        }
        return Nd4j.createFromArray(ids).castTo(type);
    }

    /** Next-token targets, int[batch * time] sample-major. */
    static int[] targets(long seed, int batch, int time, int vocab) {
        return new Random(seed).ints((long) batch * time, 0, vocab).toArray();
    }

    @Test
    void gptParameterGradientsMatchFiniteDifferences() {
        Network net = ModelZoo.full(TINY, 3, DataType.DOUBLE);
        INDArray x = tokens(5, 2, 6, 11, DataType.DOUBLE);
        int[] y = targets(7, 2, 6, 11);
        net.zeroGrads();
        CrossEntropy.Result r = CrossEntropy.evaluate(net.forward(x), y, true);
        net.backward(r.gradient(), false);
        INDArray grads = net.grads().dup();
        DoubleSupplier loss = () -> CrossEntropy.evaluate(net.forward(x), y, false).meanLoss();
        FiniteDifferences.check("gpt", net.params(), grads, FiniteDifferences.parameterProbes(net, 12, 9), loss);
    }

    /** What the server returns, dLoss/d(cut activations), against central differences on the activations. */
    @Test
    void gradientAtTheCutMatchesFiniteDifferences() {
        SplitModel m = ModelZoo.split(TINY, 3, DataType.DOUBLE);
        INDArray cut = m.client().forward(tokens(5, 2, 6, 11, DataType.DOUBLE));
        int[] y = targets(7, 2, 6, 11);
        m.server().zeroGrads();
        INDArray gradCut = m.server().backward(CrossEntropy.evaluate(m.server().forward(cut), y, true).gradient());
        assertArrayEquals(cut.shape(), gradCut.shape());
        DoubleSupplier loss = () -> CrossEntropy.evaluate(m.server().forward(cut), y, false).meanLoss();
        FiniteDifferences.check("cut", cut, gradCut, FiniteDifferences.randomProbes(cut.length(), 32, 13), loss);
    }

    /** The float kernels training runs give the gradients the DOUBLE finite-difference tests verify. */
    @Test
    void floatGradientsMatchDoublePrecisionGradients() {
        ModelSpec spec = ModelSpec.gpt(40, 16, 32, 2, 4, 1);
        INDArray x = tokens(1, 4, 16, 40, DataType.DOUBLE);
        int[] y = targets(2, 4, 16, 40);
        INDArray[] f = gradients(ModelZoo.split(spec, 5, DataType.FLOAT), x.castTo(DataType.FLOAT), y);
        INDArray[] d = gradients(ModelZoo.split(spec, 5, DataType.DOUBLE), x, y);
        String[] what = {"client", "server", "cut"};
        for (int i = 0; i < 3; i++) {
            double rel = f[i].castTo(DataType.DOUBLE).sub(d[i]).norm2Number().doubleValue() / d[i].norm2Number().doubleValue();
            assertTrue(rel < 1e-4, what[i] + " gradient: relative L2 difference float vs double " + rel);
        }
    }

    private static INDArray[] gradients(SplitModel m, INDArray x, int[] y) {
        m.client().zeroGrads();
        m.server().zeroGrads();
        INDArray gradCut = m.server().backward(CrossEntropy.evaluate(m.server().forward(m.client().forward(x)), y, true).gradient());
        m.client().backward(gradCut, false);
        return new INDArray[]{m.client().grads().dup(), m.server().grads().dup(), gradCut};
    }

    /**
     * The float layers take the oneDNN path on this build (bench lm-step's figures are for it), and one
     * training step there gives the loss, the gradients and the gradient at the cut of the float ND4J
     * path the layers keep for other types and backends, to float tolerance.
     */
    @Test
    void oneDnnPathMatchesTheNd4jPath() {
        if (Boolean.parseBoolean(System.getProperty("fsl.dnnl", "true"))
                && Nd4j.getBackend().getClass().getSimpleName().equals("CpuBackend")) {
            assertTrue(Natives.dnnlStatus().startsWith("oneDNN"), "the GPT layers' oneDNN path is off: " + Natives.dnnlStatus());
        }
        ModelSpec spec = ModelSpec.gpt(40, 16, 32, 2, 4, 1);
        INDArray x = tokens(1, 4, 16, 40, DataType.FLOAT);
        int[] y = targets(2, 4, 16, 40);
        INDArray[] fast;
        INDArray[] slow;
        double fastLoss;
        double slowLoss;
        try {
            SplitModel m = ModelZoo.split(spec, 5);
            fastLoss = CrossEntropy.evaluate(m.server().forward(m.client().forward(x)), y, false).meanLoss();
            fast = gradients(m, x, y);
            Dnnl.setEnabled(false);
            SplitModel n = ModelZoo.split(spec, 5);
            slowLoss = CrossEntropy.evaluate(n.server().forward(n.client().forward(x)), y, false).meanLoss();
            slow = gradients(n, x, y);
        } finally {
            Dnnl.setEnabled(true);
        }
        assertEquals(slowLoss, fastLoss, 1e-6 * slowLoss, "loss");
        String[] what = {"client", "server", "cut"};
        for (int i = 0; i < 3; i++) {
            double rel = fast[i].sub(slow[i]).norm2Number().doubleValue() / slow[i].norm2Number().doubleValue();
            assertTrue(rel < 1e-5, what[i] + " gradient: relative L2 difference oneDNN vs ND4J path " + rel);
        }
    }

    /**
     * A batch of one row (an image model's last partial batch): ND4J gives a [1, n] array strides
     * [1, 1], which oneDNN refuses unless the layout is normalised; forward and backward match the
     * ND4J path.
     */
    @Test
    void oneDnnDenseTakesASingleRow() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 1, 12);
        INDArray g = Nd4j.rand(DataType.FLOAT, 1, 5);
        INDArray[] fast;
        INDArray[] slow;
        try {
            fast = denseStep(x, g);
            Dnnl.setEnabled(false);
            slow = denseStep(x, g);
        } finally {
            Dnnl.setEnabled(true);
        }
        for (int i = 0; i < fast.length; i++) {
            assertEquals(0, fast[i].sub(slow[i]).amaxNumber().doubleValue(), 1e-6, "output, input gradient, parameter gradients: " + i);
        }
    }

    private static INDArray[] denseStep(INDArray x, INDArray g) {
        Network net = new Network(java.util.List.of(new Dense(12, 5)), new long[]{12}).initialize(new Random(3));
        INDArray y = net.forward(x);
        INDArray gradIn = net.backward(g);
        return new INDArray[]{y, gradIn, net.grads().dup()};
    }

    /**
     * Changing the token at position t changes no logit at an earlier position, not even by rounding,
     * changes the logits at t, and leaves the other sequence of the batch alone.
     */
    @Test
    void changingATokenChangesNoEarlierLogit() {
        int time = 12;
        Network net = ModelZoo.full(ModelSpec.gpt(50, time, 16, 2, 4, 0), 1);
        INDArray x = tokens(3, 2, time, 50, DataType.FLOAT);
        INDArray before = net.forward(x);
        for (int t : new int[]{0, 1, 6, time - 1}) {
            INDArray changed = x.dup();
            changed.putScalar(0, t, (x.getDouble(0, t) + 17) % 50);
            INDArray after = net.forward(changed);
            for (int i = 0; i < time; i++) {
                INDArray a = before.get(NDArrayIndex.point(0), NDArrayIndex.point(i));
                INDArray b = after.get(NDArrayIndex.point(0), NDArrayIndex.point(i));
                if (i < t) {
                    assertEquals(a, b, "logits at position " + i + " after changing token " + t);
                } else if (i == t) {
                    assertNotEquals(a, b, "logits at position " + i + " after changing token " + t);
                }
            }
            assertEquals(before.get(NDArrayIndex.point(1)), after.get(NDArrayIndex.point(1)), "the other sequence");
        }
    }

    /** Each auxiliary model maps the cut's [time, width] to next-token logits and, like the server part, is causal. */
    @Test
    void auxiliaryModelsGiveCausalNextTokenLogits() {
        ModelSpec spec = ModelSpec.gpt(50, 8, 16, 2, 4, 1);
        for (String kind : ModelZoo.AUXILIARY) {
            Network aux = ModelZoo.auxiliary(spec, kind, 24, 2);
            assertArrayEquals(new long[]{8, 50}, aux.outputShape(), kind);
            INDArray z = Nd4j.randn(DataType.FLOAT, 2, 8, 16);
            INDArray before = aux.forward(z);
            INDArray changed = z.dup();
            // a random change: adding a constant to a position would vanish in a layer norm
            changed.get(NDArrayIndex.point(0), NDArrayIndex.point(5)).addi(Nd4j.randn(DataType.FLOAT, 16));
            INDArray after = aux.forward(changed);
            assertEquals(before.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, 5)),
                    after.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, 5)), kind);
            assertNotEquals(before.get(NDArrayIndex.point(0), NDArrayIndex.point(5)),
                    after.get(NDArrayIndex.point(0), NDArrayIndex.point(5)), kind);
        }
        assertThrows(IllegalArgumentException.class,
                () -> ModelZoo.auxiliary(new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0), "block", 8, 1));
    }

    /**
     * Ten Adam steps of a GPT split after block 2 (client forward, server forward and backward, server
     * step, client backward from the gradient at the cut, client step) equal ten steps of the unsplit
     * model on the same batches.
     */
    @Test
    void splitTrainingEqualsUnsplitTraining() {
        ModelSpec spec = ModelSpec.gpt(40, 16, 32, 3, 4, 2);
        SplitModel split = ModelZoo.split(spec, 11);
        Network full = ModelZoo.full(spec, 11);
        INDArray initial = full.params().dup();
        Optimizer clientOpt = new Optimizer(new Adam(1e-3), split.client());
        Optimizer serverOpt = new Optimizer(new Adam(1e-3), split.server());
        Optimizer fullOpt = new Optimizer(new Adam(1e-3), full);
        for (int step = 0; step < 10; step++) {
            INDArray x = tokens(100 + step, 4, 16, 40, DataType.FLOAT);
            int[] y = targets(200 + step, 4, 16, 40);

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
        double moved = full.params().sub(initial).amaxNumber().doubleValue();
        assertTrue(moved > 5e-3, "training moved the parameters by at most " + moved);
        double maxAbs = split.fullParams().sub(full.params()).amaxNumber().doubleValue();
        assertTrue(maxAbs < 1e-5, "max |split - unsplit| parameter difference after 10 steps: " + maxAbs);
    }

    /**
     * The benchmark's larger size (width 384, 6 blocks of 6 heads, context 256: about 11M parameters,
     * where the products dominate and the oneDNN path takes its large-matrix kernels), cut after block
     * 2: three Adam steps on one sequence split and unsplit give the same losses and parameters to
     * float tolerance.
     */
    @Test
    void splitTrainingEqualsUnsplitTrainingAtTheLargerSize() {
        ModelSpec spec = ModelSpec.gpt(257, 256, 384, 6, 6, 2);
        SplitModel split = ModelZoo.split(spec, 19);
        Network full = ModelZoo.full(spec, 19);
        assertEquals(split.client().numParams() + split.server().numParams(), full.numParams());
        assertTrue(full.numParams() > 10_000_000 && full.numParams() < 12_000_000, "about 11M parameters: " + full.numParams());
        INDArray initial = full.params().dup();
        Optimizer clientOpt = new Optimizer(new Adam(1e-3), split.client());
        Optimizer serverOpt = new Optimizer(new Adam(1e-3), split.server());
        Optimizer fullOpt = new Optimizer(new Adam(1e-3), full);
        for (int step = 0; step < 3; step++) {
            INDArray x = tokens(300 + step, 1, 256, 257, DataType.FLOAT);
            int[] y = targets(400 + step, 1, 256, 257);

            INDArray logits = split.server().forwardNoCopy(split.client().forwardNoCopy(x));
            CrossEntropy.Result rs = CrossEntropy.evaluate(logits, y, logits); // the gradient in place of the logits
            INDArray gradCut = split.server().backwardNoCopy(rs.gradient());
            serverOpt.step(split.server());
            split.client().backward(gradCut, false);
            clientOpt.step(split.client());

            CrossEntropy.Result rf = CrossEntropy.evaluate(full.forward(x), y, true);
            full.backward(rf.gradient(), false);
            fullOpt.step(full);

            assertEquals(rf.meanLoss(), rs.meanLoss(), 1e-5 * Math.abs(rf.meanLoss()), "loss at step " + step);
        }
        double moved = full.params().sub(initial).amaxNumber().doubleValue();
        assertTrue(moved > 2e-3, "training moved the parameters by at most " + moved);
        double maxAbs = split.fullParams().sub(full.params()).amaxNumber().doubleValue();
        assertTrue(maxAbs < 1e-5, "max |split - unsplit| parameter difference after 3 steps: " + maxAbs);
    }

    @Test
    void cutAfterBlockKPutsTheEmbeddingsAndKBlocksOnTheClient() {
        for (int k = 1; k <= 3; k++) {
            SplitModel m = ModelZoo.split(ModelSpec.gpt(20, 8, 16, 3, 2, k), 1);
            assertEquals(1 + k, m.client().layers().size(), "client layers for cut " + k);
            assertTrue(m.client().layers().get(0) instanceof Embedding);
            assertEquals(3 - k + 2, m.server().layers().size(), "server layers for cut " + k);
            assertTrue(m.server().layers().get(m.server().layers().size() - 1) instanceof Dense);
            assertArrayEquals(new long[]{8, 16}, m.cutShape());
        }
        assertEquals(2, ModelZoo.cut(ModelSpec.gpt(20, 8, 16, 3, 2, 0)), "default: embeddings and one block");
        String error = assertThrows(IllegalArgumentException.class, () -> ModelZoo.cut(ModelSpec.gpt(20, 8, 16, 3, 2, 4))).getMessage();
        assertTrue(error.startsWith("model.cut = 4 is outside 1..3 for gpt"), error);
    }

    /** Parameter count by hand: embeddings, per block 12 w^2 + 13 w, final norm, head. */
    @Test
    void gptHasTheParametersOfItsArchitecture() {
        long v = 257;
        long t = 128;
        long w = 128;
        long depth = 4;
        Network net = new Network(ModelZoo.layers(ModelSpec.gpt(257, 128, 128, 4, 4, 0)), new long[]{t});
        assertEquals((v + t) * w + depth * (12 * w * w + 13 * w) + 2 * w + w * v + v, net.numParams());
        assertArrayEquals(new long[]{t, v}, net.outputShape());
    }

    @Test
    void specOptionsAreValidated() {
        String unknown = assertThrows(IllegalArgumentException.class, () -> ModelZoo.layers(
                new ModelSpec("gpt", new long[]{8}, 20, 1, Map.of("widht", 16)))).getMessage();
        assertTrue(unknown.contains("model option 'widht' is not one of [depth, heads, width] for gpt"), unknown);
        String heads = assertThrows(IllegalArgumentException.class, () -> ModelZoo.layers(ModelSpec.gpt(20, 8, 10, 2, 4, 1))).getMessage();
        assertTrue(heads.contains("width divisible by heads") && heads.contains("width 10"), heads);
        String image = assertThrows(IllegalArgumentException.class, () -> ModelZoo.layers(
                new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0, Map.of("width", 3)))).getMessage();
        assertTrue(image.contains("model option 'width' is not one of [] for fmnist_cnn"), image);
        String shape = assertThrows(IllegalArgumentException.class, () -> ModelZoo.layers(
                new ModelSpec("gpt", new long[]{1, 28, 28}, 10, 0))).getMessage();
        assertTrue(shape.contains("gpt expects an input shape [context]"), shape);
        Network defaults = new Network(ModelZoo.layers(new ModelSpec("gpt", new long[]{32}, 257, 0)), new long[]{32});
        assertEquals(1 + 4 + 2, defaults.layers().size(), "default depth 4");
        assertArrayEquals(new long[]{32, 257}, defaults.outputShape());
    }

    /** A spec travels to tasks by Java serialization; image specs keep their four-argument form. */
    @Test
    void specsSurviveSerialization() throws Exception {
        for (ModelSpec spec : new ModelSpec[]{ModelSpec.gpt(257, 128, 128, 4, 4, 2), new ModelSpec("simple_conv", new long[]{3, 32, 32}, 10, 0)}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(spec);
            }
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                assertEquals(spec, in.readObject());
            }
        }
        assertEquals(new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0),
                new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0, Map.of()));
        assertNotEquals(ModelSpec.gpt(257, 128, 128, 4, 4, 2), ModelSpec.gpt(257, 128, 128, 4, 2, 2));
    }
}
