package org.fslspark.model;

import org.fslspark.algorithm.Averaging;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Batch normalisation, residual blocks and the ResNets: gradients, modes, running statistics, exactness of the split. */
class ResNetTest {

    private static int[] labels(long seed, int n, int classes) {
        return new Random(seed).ints(n, 0, classes).toArray();
    }

    /** The [offset, offset + C) slice of a network's flat vector. */
    private static double[] slice(INDArray flat, long offset, long c) {
        return flat.get(NDArrayIndex.point(0), NDArrayIndex.interval(offset, offset + c)).toDoubleVector();
    }

    @Test
    void batchNormGradientsMatchFiniteDifferencesInTrainingMode() {
        // Random gamma and beta: gamma = 1, beta = 0 would hide a missing factor.
        FiniteDifferences.checkLayer(new BatchNorm2d(3), true, 4, 3, 3, 3);
    }

    /**
     * oneDNN's batch normalisation (float) against the libnd4j path, which the finite-difference test above checks in
     * double: in training mode output, running statistics, input and parameter gradients, over two steps so that the
     * gradients accumulate; then an evaluation with the running statistics.
     */
    @Test
    void batchNormOnOneDnnEqualsTheLibnd4jPath() {
        INDArray[] fast;
        INDArray[] slow;
        try {
            fast = batchNormSteps();
            Dnnl.setEnabled(false);
            slow = batchNormSteps();
        } finally {
            Dnnl.setEnabled(true);
        }
        String[] what = {"output", "input gradient", "parameters (running statistics)", "parameter gradients",
                "evaluation output (running statistics)"};
        for (int i = 0; i < fast.length; i++) {
            double rel = fast[i].sub(slow[i]).norm2Number().doubleValue() / slow[i].norm2Number().doubleValue();
            assertTrue(rel < 1e-5, what[i] + ": relative L2 difference oneDNN vs libnd4j " + rel);
        }
    }

    /**
     * A basic block's evaluation as one fused oneDNN pass (batch norms, ReLUs and the residual sum as post-ops) against
     * the layer-by-layer libnd4j path on the same network, for the identity and the projection shortcut, after
     * training-mode passes have moved the running statistics.
     */
    @Test
    void residualBlockEvaluationOnOneDnnEqualsTheLibnd4jPath() {
        Network net = new Network(List.of(new BasicBlock(16, 16, 1, false), new BasicBlock(16, 32, 2, true)),
                new long[]{16, 9, 9}).initialize(new Random(3));
        for (int step = 0; step < 3; step++) {
            net.forward(FiniteDifferences.random(20 + step, 4, 16, 9, 9).castTo(DataType.FLOAT).muli(2).addi(0.5));
        }
        INDArray x = FiniteDifferences.random(30, 4, 16, 9, 9).castTo(DataType.FLOAT);
        INDArray fast = net.predict(x).dup();
        INDArray slow;
        try {
            Dnnl.setEnabled(false);
            slow = net.predict(x).dup();
        } finally {
            Dnnl.setEnabled(true);
        }
        assertArrayEquals(new long[]{4, 32, 5, 5}, fast.shape());
        double rel = fast.sub(slow).norm2Number().doubleValue() / slow.norm2Number().doubleValue();
        assertTrue(rel < 1e-5, "relative L2 difference fused oneDNN vs libnd4j " + rel);
    }

    /**
     * The convolution on oneDNN (blocked layouts, reorders) against libnd4j's conv2d and conv2d_bp: output, input and
     * parameter gradients, over the shapes the model zoo uses (a one-channel stem, 16 and 64 channels, strided, 1x1
     * and 5x5 with bias), two steps accumulating.
     */
    @Test
    void convolutionOnOneDnnEqualsTheLibnd4jPath() {
        int[] channels = {1, 16, 64, 16, 3};
        List<java.util.function.Supplier<Layer>> layers = List.of(() -> Conv2d.resnet(1, 16, 3, 1, 1, false),
                () -> Conv2d.resnet(16, 16, 3, 1, 1, false), () -> Conv2d.resnet(64, 128, 3, 2, 1, true),
                () -> new Conv2d(16, 32, 1, 2, 0), () -> new Conv2d(3, 64, 5, 1, 2));
        for (int k = 0; k < layers.size(); k++) {
            INDArray[] fast;
            INDArray[] slow;
            try {
                fast = convolutionSteps(layers.get(k).get(), channels[k]);
                Dnnl.setEnabled(false);
                slow = convolutionSteps(layers.get(k).get(), channels[k]);
            } finally {
                Dnnl.setEnabled(true);
            }
            String[] what = {"output", "input gradient", "parameter gradients"};
            for (int i = 0; i < fast.length; i++) {
                double rel = fast[i].sub(slow[i]).norm2Number().doubleValue() / slow[i].norm2Number().doubleValue();
                assertTrue(rel < 1e-5, "layer " + layers.get(k).get().describe() + " " + what[i]
                        + ": relative L2 difference oneDNN vs libnd4j " + rel);
            }
        }
    }

    private static INDArray[] convolutionSteps(Layer layer, int c) {
        Network net = new Network(List.of(layer), new long[]{c, 6, 6}).initialize(new Random(5));
        INDArray y = null;
        INDArray gradIn = null;
        for (int step = 0; step < 2; step++) {
            y = net.forward(FiniteDifferences.random(11 + step, 4, c, 6, 6).castTo(DataType.FLOAT)).dup();
            gradIn = net.backward(FiniteDifferences.random(13 + step, y.shape()).castTo(DataType.FLOAT)).dup();
        }
        return new INDArray[]{y, gradIn, net.grads().dup()};
    }

    private static INDArray[] batchNormSteps() {
        Network net = new Network(List.of(new BatchNorm2d(5)), new long[]{5, 6, 7}).initialize(new Random(4));
        net.params().get(NDArrayIndex.point(0), NDArrayIndex.interval(0, 10))
                .assign(FiniteDifferences.random(5, 1, 10).castTo(DataType.FLOAT));
        INDArray y = null;
        INDArray gradIn = null;
        for (int step = 0; step < 2; step++) {
            y = net.forward(FiniteDifferences.random(6 + step, 8, 5, 6, 7).castTo(DataType.FLOAT).muli(3).addi(1)).dup();
            gradIn = net.backward(FiniteDifferences.random(8 + step, 8, 5, 6, 7).castTo(DataType.FLOAT)).dup();
        }
        INDArray eval = net.predict(FiniteDifferences.random(10, 8, 5, 6, 7).castTo(DataType.FLOAT).muli(3).addi(1)).dup();
        return new INDArray[]{y, gradIn, net.params().dup(), net.grads().dup(), eval};
    }

    @Test
    void identityBasicBlockGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayers(List.of(new BasicBlock(3, 3, 1, false)), true, 12, 3, 3, 5, 5);
    }

    @Test
    void projectionBasicBlockGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayers(List.of(new BasicBlock(2, 4, 2, true)), true, 12, 3, 2, 6, 6);
    }

    @Test
    void globalAvgPoolGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayer(new GlobalAvgPool(), false, 2, 3, 4, 5);
    }

    /**
     * Against a hand computation: training normalises with the batch's statistics (biased variance) and moves
     * the running ones by 0.1 towards them (unbiased variance); evaluation normalises with the running ones.
     */
    @Test
    void trainingUsesBatchStatisticsAndEvaluationUsesRunningStatistics() {
        int c = 2;
        Network net = new Network(List.of(new BatchNorm2d(c)), new long[]{c, 2, 3}, DataType.DOUBLE).initialize(new Random(1));
        double[] gamma = {1.5, -0.5};
        double[] beta = {0.25, 2.0};
        double[] rm0 = {0.3, -1.0};
        double[] rv0 = {2.0, 0.5};
        net.params().assign(Nd4j.createFromArray(new double[]{gamma[0], gamma[1], beta[0], beta[1], rm0[0], rm0[1], rv0[0], rv0[1]})
                .reshape(1, 8));
        INDArray x = FiniteDifferences.random(3, 3, c, 2, 3).muli(4).addi(1);

        INDArray eval = net.predict(x);
        assertArrayEquals(new double[]{gamma[0], gamma[1], beta[0], beta[1], rm0[0], rm0[1], rv0[0], rv0[1]},
                net.params().toDoubleVector(), 0, "evaluation changes nothing");
        INDArray train = net.forward(x);
        int n = 3 * 2 * 3;
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int b = 0; b < 3; b++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) sum += x.getDouble(b, ch, i, j);
            double mean = sum / n;
            double sq = 0;
            for (int b = 0; b < 3; b++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) sq += Math.pow(x.getDouble(b, ch, i, j) - mean, 2);
            double biased = sq / n;
            for (int b = 0; b < 3; b++) {
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 3; j++) {
                        double v = x.getDouble(b, ch, i, j);
                        assertEquals(gamma[ch] * (v - mean) / Math.sqrt(biased + 1e-5) + beta[ch], train.getDouble(b, ch, i, j), 1e-12);
                        assertEquals(gamma[ch] * (v - rm0[ch]) / Math.sqrt(rv0[ch] + 1e-5) + beta[ch], eval.getDouble(b, ch, i, j), 1e-12);
                    }
                }
            }
            assertEquals(0.9 * rm0[ch] + 0.1 * mean, net.params().getDouble(4 + ch), 1e-12);
            assertEquals(0.9 * rv0[ch] + 0.1 * sq / (n - 1), net.params().getDouble(6 + ch), 1e-12);
        }
    }

    /** The optimizer never moves running statistics (Adam and momentum SGD), though it moves gamma and beta. */
    @Test
    void optimizersLeaveRunningStatisticsToTheForwardPass() {
        for (var updater : List.of(new Adam(0.1), new Nesterovs(0.1, 0.9))) {
            Network net = new Network(List.of(new Conv2d(1, 2, 3, 1, 1), new BatchNorm2d(2)), new long[]{1, 4, 4})
                    .initialize(new Random(2));
            Optimizer optimizer = new Optimizer(updater, net);
            long bn = 2 * 9 + 2;
            for (int step = 0; step < 3; step++) {
                INDArray x = FiniteDifferences.random(10 + step, 3, 1, 4, 4).castTo(DataType.FLOAT);
                INDArray before = net.params().dup();
                net.forward(x);
                INDArray afterForward = net.params().dup();
                assertFalse(java.util.Arrays.equals(slice(before, bn + 4, 4), slice(afterForward, bn + 4, 4)),
                        "the forward pass moves the running statistics");
                net.backward(FiniteDifferences.random(20 + step, 3, 2, 4, 4).castTo(DataType.FLOAT));
                optimizer.step(net);
                assertArrayEquals(slice(afterForward, bn + 4, 4), slice(net.params(), bn + 4, 4), 0, updater + " step " + step);
                assertFalse(java.util.Arrays.equals(slice(afterForward, bn, 4), slice(net.params(), bn, 4)),
                        "gamma and beta train");
            }
        }
    }

    /**
     * FedAvg of BN models: running statistics are averaged with the parameters by the clients' sample weights,
     * and the averaged model evaluates with the averaged statistics.
     */
    @Test
    void fedAvgAveragesRunningStatisticsWithSampleWeights() {
        ModelSpec spec = new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 0, Map.of("width", 4));
        Network a = ModelZoo.full(spec, 7);
        Network b = ModelZoo.full(spec, 7);
        a.forward(FiniteDifferences.random(1, 5, 1, 8, 8).castTo(DataType.FLOAT));
        b.forward(FiniteDifferences.random(2, 5, 1, 8, 8).castTo(DataType.FLOAT).muli(3).addi(2));
        // The stem's batch norm follows its 4*1*3*3 convolution weights: [gamma, beta, mean, var] x 4.
        long mean = 36 + 8;
        double[] ma = slice(a.params(), mean, 8);
        double[] mb = slice(b.params(), mean, 8);
        assertFalse(java.util.Arrays.equals(ma, mb), "two clients' data give different running statistics");

        double[] w = Averaging.weights(new long[]{30, 10}, false);
        Network avg = ModelZoo.full(spec, 99);
        avg.setParams(Averaging.average(List.of(a.params(), b.params()), w));
        double[] expected = new double[8];
        for (int i = 0; i < 8; i++) {
            expected[i] = 0.75 * ma[i] + 0.25 * mb[i];
        }
        assertArrayEquals(expected, slice(avg.params(), mean, 8), 1e-6);

        // Evaluation with the averaged statistics: the stem's output by hand for one value.
        INDArray x = FiniteDifferences.random(3, 1, 1, 8, 8).castTo(DataType.FLOAT);
        Network stem = new Network(List.of(avg.layers().get(0)), new long[]{1, 8, 8});
        stem.setParams(avg.params().get(NDArrayIndex.point(0), NDArrayIndex.interval(0, stem.numParams())));
        INDArray conv = new Network(List.of(((Stack) avg.layers().get(0)).parts().get(0)), new long[]{1, 8, 8}).forward(x);
        INDArray y = stem.predict(x);
        double expectedY = Math.max(0, (conv.getDouble(0, 2, 3, 4) - expected[2]) / Math.sqrt(expected[6] + 1e-5)
                * avg.params().getDouble(36 + 2) + avg.params().getDouble(36 + 4 + 2));
        assertEquals(expectedY, y.getDouble(0, 2, 3, 4), 1e-5);
    }

    /** Evaluation of a ResNet after training differs from a training-mode pass on the same batch (it uses running statistics). */
    @Test
    void resnetEvaluationDependsOnRunningStatistics() {
        ModelSpec spec = new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 0, Map.of("width", 4));
        Network net = ModelZoo.full(spec, 3);
        INDArray x = FiniteDifferences.random(4, 6, 1, 8, 8).castTo(DataType.FLOAT);
        INDArray before = net.predict(x);
        INDArray params = net.params().dup();
        net.forward(x);
        INDArray after = net.predict(x);
        assertFalse(before.equalsWithEps(after, 1e-4), "new running statistics change the evaluation");
        net.setParams(params);
        assertTrue(before.equalsWithEps(net.predict(x), 0), "and only they do");
    }

    /** Split and unsplit ResNets trained for 20 Adam steps in training mode end equal, running statistics included. */
    @Test
    void resnet20SplitTrainingEqualsUnsplitTraining() {
        splitEqualsUnsplit(new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 0));
        splitEqualsUnsplit(new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 1, Map.of("width", 4)));
    }

    @Test
    void reducedResnet18SplitTrainingEqualsUnsplitTraining() {
        splitEqualsUnsplit(new ModelSpec("resnet18", new long[]{3, 8, 8}, 4, 0, Map.of("width", 4)));
    }

    private static void splitEqualsUnsplit(ModelSpec spec) {
        Network full = ModelZoo.full(spec, 11);
        SplitModel split = ModelZoo.split(spec, 11);
        Optimizer fullOptimizer = new Optimizer(new Adam(1e-2), full);
        Optimizer clientOptimizer = new Optimizer(new Adam(1e-2), split.client());
        Optimizer serverOptimizer = new Optimizer(new Adam(1e-2), split.server());
        INDArray initial = full.params().dup();
        for (int step = 0; step < 20; step++) {
            INDArray x = FiniteDifferences.random(100 + step, 6, spec.inputShape()[0], 8, 8).castTo(DataType.FLOAT);
            int[] y = labels(200 + step, 6, 4);
            full.backward(CrossEntropy.evaluate(full.forward(x), y, true).gradient());
            fullOptimizer.step(full);
            INDArray z = split.client().forward(x);
            split.client().backward(split.server().backward(CrossEntropy.evaluate(split.server().forward(z), y, true).gradient()));
            clientOptimizer.step(split.client());
            serverOptimizer.step(split.server());
        }
        assertArrayEquals(full.params().toFloatVector(), split.fullParams().toFloatVector(), 1e-6f, spec.toString());
        assertFalse(initial.equalsWithEps(full.params(), 1e-3), "training moved the parameters");
        // The stem's running mean moved from 0 (its slice follows the stem convolution's weights and gamma, beta).
        long c = spec.option("width", spec.name().equals("resnet18") ? 64 : 16);
        long stemConv = c * spec.inputShape()[0] * 9;
        double[] runningMean = slice(full.params(), stemConv + 2 * c, c);
        assertTrue(java.util.Arrays.stream(runningMean).anyMatch(v -> Math.abs(v) > 1e-4), "running statistics moved");
        assertArrayEquals(runningMean, slice(split.client().params(), stemConv + 2 * c, c), 0);
        INDArray x = FiniteDifferences.random(300, 5, spec.inputShape()[0], 8, 8).castTo(DataType.FLOAT);
        assertArrayEquals(full.predict(x).reshape(-1).toFloatVector(),
                split.server().predict(split.client().predict(x)).reshape(-1).toFloatVector(), 1e-5f);
    }

    /**
     * FSL-SAGE's alignment targets on a ResNet server: the training-mode gradient (batch statistics, what the
     * server returns in training), leaving the server's vector, running statistics included, as it was.
     */
    @Test
    void alignmentProbeOfABatchNormServerLeavesItsRunningStatistics() {
        SplitModel m = ModelZoo.split(new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 1, Map.of("width", 4)), 5);
        INDArray z = FiniteDifferences.random(6, 6, 4, 8, 8).castTo(DataType.FLOAT);
        int[] y = labels(7, 6, 4);
        INDArray before = m.server().params().dup();
        INDArray targets = org.fslspark.algorithm.Alignment.perSampleInputGradient(m.server(), z, y, 6);
        assertTrue(before.equalsWithEps(m.server().params(), 0), "the probe changed the server");
        INDArray expected = m.server().backward(CrossEntropy.evaluate(m.server().forward(z), y, true).gradient().muli(6));
        assertArrayEquals(expected.reshape(-1).toFloatVector(), targets.reshape(-1).toFloatVector(), 1e-6f);
        assertFalse(before.equalsWithEps(m.server().params(), 1e-6), "a training-mode pass does move them");
    }

    /** The ResNets' cuts: after the stem or any stage, with the documented defaults and shapes. */
    @Test
    void resnetCutsFallAfterTheStemOrAStage() {
        assertArrayEquals(new long[]{16, 28, 28}, ModelZoo.cutShape(new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 0)));
        assertArrayEquals(new long[]{16, 28, 28}, ModelZoo.cutShape(new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 1)));
        assertArrayEquals(new long[]{32, 14, 14}, ModelZoo.cutShape(new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 3)));
        assertArrayEquals(new long[]{64, 7, 7}, ModelZoo.cutShape(new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 4)));
        assertArrayEquals(new long[]{128, 16, 16}, ModelZoo.cutShape(new ModelSpec("resnet18", new long[]{3, 32, 32}, 10, 0)));
        assertThrowsOutside(new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 5));
        assertThrowsOutside(new ModelSpec("resnet18", new long[]{3, 32, 32}, 10, 6));
        // ResNet-18's parameter count: torchvision's CIFAR ResNet-18 has 11,173,962 trainable values for 10
        // classes; ours adds each batch norm's running mean and variance (2 x 4,800).
        assertEquals(11_173_962 + 2 * 4_800, new Network(ModelZoo.layers(new ModelSpec("resnet18", new long[]{3, 32, 32}, 10, 0)),
                new long[]{3, 32, 32}).numParams());
    }

    private static void assertThrowsOutside(ModelSpec spec) {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ModelZoo.cut(spec));
    }

    /** The auxiliary heads on a ResNet cut pool first: linear = pool + dense, mlp = pool + dense + ReLU + dense. */
    @Test
    void resnetAuxiliaryHeadsWorkOnPooledFeatures() {
        ModelSpec spec = new ModelSpec("resnet20", new long[]{1, 28, 28}, 10, 0);
        Network linear = ModelZoo.auxiliary(spec, "linear", 32, 1);
        Network mlp = ModelZoo.auxiliary(spec, "mlp", 32, 1);
        assertEquals(16 * 10 + 10, linear.numParams());
        assertEquals(16 * 32 + 32 + 32 * 10 + 10, mlp.numParams());
        assertTrue(linear.layers().get(0) instanceof GlobalAvgPool && mlp.layers().get(0) instanceof GlobalAvgPool);
        INDArray z = FiniteDifferences.random(5, 2, 16, 28, 28).castTo(DataType.FLOAT);
        assertArrayEquals(new long[]{2, 10}, mlp.forward(z).shape());
    }
}
