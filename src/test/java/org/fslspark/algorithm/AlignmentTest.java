package org.fslspark.algorithm;

import org.fslspark.model.BatchNorm2d;
import org.fslspark.model.Conv2d;
import org.fslspark.model.Dense;
import org.fslspark.model.Flatten;
import org.fslspark.model.LayerNorm;
import org.fslspark.model.Layer;
import org.fslspark.model.Network;
import org.fslspark.model.Relu;
import org.fslspark.model.TransformerBlock;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The alignment objective's gradient, computed from two first-order passes, against exact oracles. */
class AlignmentTest {
    static final long[] CUT = {4, 2, 2};
    static final int IN = 16;
    static final int CLASSES = 5;
    static final int N = 7;

    private static INDArray random(Random rng, double scale, long... shape) {
        INDArray a = Nd4j.zeros(DataType.DOUBLE, shape);
        for (long i = 0; i < a.length(); i++) {
            a.putScalar(i, rng.nextGaussian() * scale);
        }
        return a;
    }

    private static int[] labels(Random rng) {
        int[] y = new int[N];
        for (int i = 0; i < N; i++) {
            y[i] = rng.nextInt(CLASSES);
        }
        return y;
    }

    private static double alignmentLoss(Network aux, INDArray z, int[] y, INDArray g) {
        double norm = Alignment.perSampleInputGradient(aux, z, y).sub(g).norm2Number().doubleValue();
        return norm * norm;
    }

    @Test
    void alignmentGradientMatchesClosedFormForALinearModel() {
        Random rng = new Random(3);
        Network aux = new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT, DataType.DOUBLE).initialize(rng);
        INDArray z = random(rng, 1.0, N, 4, 2, 2);
        int[] y = labels(rng);
        INDArray g = random(rng, 0.3, N, 4, 2, 2);
        double loss = Alignment.lossAndGradient(aux, z, y, g, 1e-5);
        INDArray got = aux.grads().dup();

        // Closed form of ALGORITHMS.md, with our Dense weight W [in, classes] (the spec's W transposed).
        INDArray w = aux.params().get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, IN * CLASSES)).reshape(IN, CLASSES);
        INDArray c = aux.params().get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(IN * CLASSES, IN * CLASSES + CLASSES)).reshape(1, CLASSES);
        INDArray zf = z.reshape(N, IN);
        INDArray p = Transforms.softmax(zf.mmul(w).addRowVector(c), true);
        INDArray e = p.dup();
        for (int n = 0; n < N; n++) {
            e.putScalar(n, y[n], e.getDouble(n, y[n]) - 1);
        }
        INDArray r = e.mmul(w.transpose()).sub(g.reshape(N, IN));  // rows: r_n = W e_n - g_n
        INDArray u = r.mmul(w);                                       // rows: u_n = W^T r_n
        INDArray pu = p.mul(u).sum(true, 1);                          // p^T u per row
        INDArray v = p.mul(u.subColumnVector(pu));                    // p . (u - (p^T u) 1)
        INDArray dW = r.transpose().mmul(e).add(zf.transpose().mmul(v)).mul(2);
        INDArray dc = v.sum(true, 0).mul(2);
        INDArray expected = Nd4j.hstack(dW.reshape(1, IN * CLASSES), dc);

        assertEquals(r.norm2Number().doubleValue() * r.norm2Number().doubleValue(), loss, 1e-9 * loss);
        double err = got.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
        assertTrue(err < 1e-6, "relative error " + err);
    }

    @Test
    void aLinearHeadsFitTakesTheClosedFormAndAgreesWithTheCentralDifference() {
        Random rng = new Random(7);
        Network byDifference = new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT, DataType.DOUBLE).initialize(rng);
        Network byClosedForm = new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT, DataType.FLOAT);
        byClosedForm.setParams(byDifference.params());
        byDifference.setParams(byClosedForm.params()); // the float32 parameters, exactly
        Network twin = new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT, DataType.DOUBLE);
        INDArray z = random(rng, 1.0, N, 4, 2, 2);
        int[] y = labels(rng);
        INDArray g = random(rng, 0.3, N, 4, 2, 2);
        double difference = Alignment.lossAndGradient(byDifference, z, y, g, 1e-6);
        double closed = new Alignment.Fit(byClosedForm, twin, 1e-6).lossAndGradient(z.castTo(DataType.FLOAT), y, g.castTo(DataType.FLOAT));
        assertEquals(difference, closed, 1e-6 * difference);
        double err = byClosedForm.grads().castTo(DataType.DOUBLE).sub(byDifference.grads()).norm2Number().doubleValue()
                / byDifference.grads().norm2Number().doubleValue();
        assertTrue(err < 1e-6, "relative error " + err);
    }

    @Test
    void alignmentGradientMatchesFiniteDifferencesForAnMlp() {
        Random rng = new Random(5);
        Network aux = new Network(List.of(new Flatten(), new Dense(IN, 6), new Relu(), new Dense(6, CLASSES)), CUT,
                DataType.DOUBLE).initialize(rng);
        INDArray z = random(rng, 1.0, N, 4, 2, 2);
        int[] y = labels(rng);
        INDArray g = random(rng, 0.3, N, 4, 2, 2);
        Alignment.lossAndGradient(aux, z, y, g, 1e-5);
        assertMatchesFiniteDifferences(aux, z, y, g);
    }

    @Test
    void aFloatMlpHeadGetsTheGradientItsFloat64TwinComputes() {
        // The runtime's heads are float32; their alignment gradient is computed in a float64 twin (ReLU kinks).
        List<Layer> layers = List.of(new Flatten(), new Dense(IN, 6), new Relu(), new Dense(6, CLASSES));
        Random rng = new Random(5);
        Network reference = new Network(layers, CUT, DataType.DOUBLE).initialize(rng);
        Network aux = new Network(List.of(new Flatten(), new Dense(IN, 6), new Relu(), new Dense(6, CLASSES)), CUT,
                DataType.FLOAT);
        aux.setParams(reference.params());
        Network twin = new Network(List.of(new Flatten(), new Dense(IN, 6), new Relu(), new Dense(6, CLASSES)), CUT,
                DataType.DOUBLE);
        INDArray z = random(rng, 1.0, N, 4, 2, 2);
        int[] y = labels(rng);
        INDArray g = random(rng, 0.3, N, 4, 2, 2);
        reference.setParams(aux.params()); // the float32 parameters, exactly
        Alignment.lossAndGradient(reference, z, y, g, 1e-6);
        new Alignment.Fit(aux, twin, 1e-6).lossAndGradient(z.castTo(DataType.FLOAT), y, g.castTo(DataType.FLOAT));
        double err = aux.grads().castTo(DataType.DOUBLE).sub(reference.grads()).norm2Number().doubleValue()
                / reference.grads().norm2Number().doubleValue();
        assertTrue(err < 1e-5, "relative error " + err);
        assertEquals(0.0, twin.grads().norm2Number().doubleValue(), "the twin's gradient is handed over, not kept");

        // A step large enough for units to switch inside it: the masks held at z keep the difference smooth.
        INDArray small = reference.grads().dup();
        Alignment.lossAndGradient(reference, z, y, g, 1e-2);
        double coarse = reference.grads().sub(small).norm2Number().doubleValue() / small.norm2Number().doubleValue();
        assertTrue(coarse < 1e-3, "relative error with a step of 1e-2: " + coarse);
    }

    @Test
    void alignmentGradientMatchesFiniteDifferencesForALanguageModelBlock() {
        // A language model's auxiliary model: one transformer block, final norm and head on [time, width],
        // with one next-token target per position.
        int time = 3;
        int width = 4;
        int vocab = 5;
        Random rng = new Random(13);
        Network aux = new Network(List.of(new TransformerBlock(width, 2, 1), new LayerNorm(width),
                new Dense(width, vocab, 0.3)), new long[]{time, width}, DataType.DOUBLE).initialize(rng);
        INDArray z = random(rng, 1.0, N, time, width);
        int[] y = new int[N * time];
        for (int i = 0; i < y.length; i++) {
            y[i] = rng.nextInt(vocab);
        }
        INDArray g = random(rng, 0.3, N, time, width);
        Alignment.lossAndGradient(aux, z, y, g, 1e-5);
        assertMatchesFiniteDifferences(aux, z, y, g);
    }

    @Test
    void perSampleGradientsInChunksEqualThoseOfTheWholeBatch() {
        // The server's targets for a language model's buffer are computed a few sequences at a time.
        int time = 3;
        int width = 4;
        Random rng = new Random(17);
        Network net = new Network(List.of(new TransformerBlock(width, 2, 1), new LayerNorm(width),
                new Dense(width, CLASSES, 0.3)), new long[]{time, width}, DataType.DOUBLE).initialize(rng);
        INDArray z = random(rng, 1.0, N, time, width);
        int[] y = new int[N * time];
        for (int i = 0; i < y.length; i++) {
            y[i] = rng.nextInt(CLASSES);
        }
        INDArray whole = Alignment.perSampleInputGradient(net, z, y);
        INDArray chunked = Alignment.perSampleInputGradient(net, z, y, 3);
        assertArrayEquals(whole.shape(), chunked.shape());
        assertEquals(0, whole.sub(chunked).norm2Number().doubleValue(), 1e-12 * whole.norm2Number().doubleValue());
        assertTrue(whole.norm2Number().doubleValue() > 0);
    }

    private static void assertMatchesFiniteDifferences(Network aux, INDArray z, int[] y, INDArray g) {
        INDArray got = aux.grads().dup();
        aux.zeroGrads();
        INDArray params = aux.params();
        double h = 1e-6;
        double worst = 0;
        for (long j = 0; j < params.length(); j++) {
            double keep = params.getDouble(j);
            params.putScalar(j, keep + h);
            double up = alignmentLoss(aux, z, y, g);
            params.putScalar(j, keep - h);
            double down = alignmentLoss(aux, z, y, g);
            params.putScalar(j, keep);
            double numeric = (up - down) / (2 * h);
            worst = Math.max(worst, Math.abs(numeric - got.getDouble(j)) / Math.max(1e-3, Math.abs(numeric)));
        }
        assertTrue(worst < 1e-4, "worst relative error " + worst);
    }

    @Test
    void alignmentLowersTheErrorOnHeldOutBatches() {
        // The server part: a small MLP; a linear auxiliary model learns to imitate its input-gradients.
        Random rng = new Random(11);
        Network top = new Network(List.of(new Flatten(), new Dense(IN, 12), new Relu(), new Dense(12, CLASSES)), CUT,
                DataType.DOUBLE).initialize(rng);
        Learner aux = new Learner(new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT, DataType.DOUBLE)
                .initialize(rng), new org.nd4j.linalg.learning.config.Adam(1e-2));
        INDArray z = random(rng, 1.0, 200, 4, 2, 2);
        int[] y = new int[200];
        for (int i = 0; i < y.length; i++) {
            y[i] = rng.nextInt(CLASSES);
        }
        SmashedBatch held = new SmashedBatch(0, 0, random(rng, 1.0, 50, 4, 2, 2), java.util.Arrays.copyOf(y, 50));
        INDArray targets = Alignment.perSampleInputGradient(top, z, y);
        Alignment.Quality before = Alignment.quality(aux.network(), top, held);
        Alignment.Fit fit = new Alignment.Fit(aux.network(), aux.network(), 1e-4);
        for (int epoch = 0; epoch < 300; epoch++) {
            fit.lossAndGradient(z, y, targets);
            aux.step();
        }
        Alignment.Quality after = Alignment.quality(aux.network(), top, held);
        assertTrue(after.nmse() < 0.5 * before.nmse(), before + " -> " + after);
        assertTrue(after.cosine() > before.cosine(), before + " -> " + after);

        // Scale: on a client minibatch, the estimate a client backpropagates (gradient of the batch-mean
        // loss) has the scale of the gradient the server would return for it, not b times more or less.
        INDArray estimate = batchMeanInputGradient(aux.network(), held);
        INDArray truth = batchMeanInputGradient(top, held);
        double ratio = estimate.norm2Number().doubleValue() / truth.norm2Number().doubleValue();
        assertTrue(ratio > 0.6 && ratio < 1.6, "estimate/true gradient norm ratio " + ratio);
    }

    /**
     * With a batch-norm server, FSL-SAGE fits a_i to the server's gradients in the minibatches the client uploaded
     * (each with its own batch statistics), which differ from the gradients over the whole buffer at once.
     */
    @Test
    void batchNormTargetsAreTheServersGradientsPerUploadedMinibatch() {
        Random rng = new Random(13);
        Network top = new Network(List.of(new Conv2d(4, 3, 1, 1, 0), new BatchNorm2d(3), new Relu(), new Flatten(),
                new Dense(12, CLASSES)), CUT, DataType.FLOAT).initialize(rng);
        java.util.function.Supplier<Network> head = () -> new Network(List.of(new Flatten(), new Dense(IN, CLASSES)), CUT,
                DataType.FLOAT).initialize(new Random(5));
        java.util.function.IntFunction<Network> headInDouble = c -> new Network(List.of(new Flatten(), new Dense(IN, CLASSES)),
                CUT, DataType.DOUBLE);
        Learner aux = new Learner(head.get(), new org.nd4j.linalg.learning.config.Adam(1e-2));
        AlignmentBuffer buffer = new AlignmentBuffer(100);
        List<SmashedBatch> uploads = List.of(upload(rng, 6), upload(rng, 3));
        uploads.forEach(buffer::add);
        AlgorithmSettings settings = new AlgorithmSettings(5, 10, 100, 4, 0, new org.fslspark.config.OptimizerSpec("adam", 1e-2, 0.9),
                "linear", 8, false, 1e-3);
        new FslSage(settings).align(new Server(new Learner(top, new org.nd4j.linalg.learning.config.Adam(1e-3)), c -> null,
                c -> buffer, c -> aux, headInDouble), 0);

        INDArray perUpload = Nd4j.concat(0, uploads.stream().map(u -> Alignment.perSampleInputGradient(top, u.activations(),
                u.labels())).toArray(INDArray[]::new));
        SmashedBatch all = buffer.contents();
        Learner replica = new Learner(head.get(), new org.nd4j.linalg.learning.config.Adam(1e-2));
        Alignment.Fit fit = new Alignment.Fit(replica.network(), headInDouble.apply(0), 1e-3);
        for (int epoch = 0; epoch < 4; epoch++) {
            fit.lossAndGradient(all.activations(), all.labels(), perUpload);
            replica.step();
        }
        assertEquals(0, replica.network().params().sub(aux.network().params()).amaxNumber().doubleValue(), 1e-6);
        double apart = Alignment.perSampleInputGradient(top, all.activations(), all.labels()).sub(perUpload).amaxNumber().doubleValue();
        assertTrue(apart > 1e-3, "whole-buffer and per-minibatch targets differ by " + apart);
    }

    private static SmashedBatch upload(Random rng, int n) {
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = rng.nextInt(CLASSES);
        }
        return new SmashedBatch(0, 0, random(rng, 1.0, n, 4, 2, 2).castTo(DataType.FLOAT), y);
    }

    private static INDArray batchMeanInputGradient(Network net, SmashedBatch b) {
        INDArray g = net.backward(org.fslspark.model.CrossEntropy.evaluate(net.forward(b.activations()), b.labels(), true).gradient());
        net.zeroGrads();
        return g;
    }

    /**
     * A whole-buffer fit's memory stays flat over its epochs. Its per-epoch residual is as large as the buffer (here 1,000
     * of resnet20's cut activations, 100 MB in float64), and ND4J frees an array's off-heap memory only when the Java GC
     * collects it, which a process with little heap garbage rarely does: before the residual was freed at once, the
     * process grew by about 97 MB an epoch (resnet20's FSL-SAGE reached 12.8 GB in its 100-epoch alignment).
     */
    @Test
    void aWholeBufferFitsMemoryStaysFlatOverItsEpochs() throws Exception {
        org.fslspark.model.ModelSpec spec = new org.fslspark.model.ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 0);
        Network aux = org.fslspark.model.ModelZoo.auxiliary(spec, "linear", 0, 3);
        Network twin = org.fslspark.model.ModelZoo.auxiliary(spec, "linear", 0, 3, DataType.DOUBLE);
        INDArray z = Nd4j.rand(DataType.FLOAT, 1000, 16, 28, 28);
        INDArray targets = Nd4j.rand(DataType.FLOAT, 1000, 16, 28, 28).muli(1e-3);
        int[] labels = new Random(1).ints(1000, 0, 10).toArray();
        Alignment.Fit fit = new Alignment.Fit(aux, twin, 1e-6);
        for (int epoch = 0; epoch < 2; epoch++) {
            fit.lossAndGradient(z, labels, targets);
        }
        long before = residentMegabytes();
        for (int epoch = 0; epoch < 10; epoch++) {
            fit.lossAndGradient(z, labels, targets);
        }
        long grown = residentMegabytes() - before;
        assertTrue(grown < 300, "10 epochs grew the process by " + grown + " MB (a leaked residual: about 970)");
    }

    private static long residentMegabytes() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
