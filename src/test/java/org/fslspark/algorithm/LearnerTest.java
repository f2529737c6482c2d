package org.fslspark.algorithm;

import org.fslspark.model.Layer;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.fslspark.model.CrossEntropy;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A server part that clients enter at different cuts (docs/CUTS.md): fmnist_cnn's layers from cut 3 (after the first
 * conv block) with a second entry at cut 6 (after the second). A batch entering at cut 6 trains and steps only the
 * layers from there; one entering at cut 3 trains all. Checked against two separate networks, the layers 3..5 and
 * 6.., each with its own Adam: the layers' optimizer counts only the steps of the batches that reached them.
 */
class LearnerTest {
    private static final ModelSpec SPEC = new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 3);

    private static INDArray input(int seed, long... shape) {
        Random r = new Random(seed);
        float[] v = new float[(int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat() - 0.5f;
        }
        return Nd4j.create(v, shape, 'c');
    }

    private static int[] labels(int seed) {
        return new Random(seed).ints(8, 0, 10).toArray();
    }

    /** Layers [from, to) of the seeded model as a network of their own, with their seeded parameters. */
    private static Network part(int from, int to) {
        List<Layer> layers = ModelZoo.layers(SPEC);
        Network full = ModelZoo.full(SPEC, 7);
        long[] shape = SPEC.inputShape();
        long start = 0;
        for (Layer l : layers.subList(0, from)) {
            shape = l.outputShape(shape);
            start += l.numParams();
        }
        Network net = new Network(layers.subList(from, to), shape);
        net.setParams(full.params().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(start, start + net.numParams())));
        return net;
    }

    @Test
    void aBatchTrainsTheLayersFromItsEntryAndStepsOnlyTheirOptimizers() {
        Network server = part(3, 10);
        Learner shared = new Learner(server, new Adam(1e-2), new int[]{0, 3});
        Network middle = part(3, 6);
        Network top = part(6, 10);
        Optimizer middleAdam = new Optimizer(new Adam(1e-2), middle);
        Optimizer topAdam = new Optimizer(new Adam(1e-2), top);
        INDArray before = server.params().dup();

        // A client cut at 6 sends [8, 64, 7, 7]: only layers 6.. move.
        INDArray deep = input(1, 8, 64, 7, 7);
        INDArray g = shared.from(3).trainOn(deep, labels(2)).inputGradient();
        INDArray expected = top.backward(CrossEntropy.evaluate(top.forward(deep), labels(2), true).gradient());
        topAdam.step(top);
        assertArrayEquals(expected.data().asFloat(), g.data().asFloat());
        long split = middle.numParams();
        assertArrayEquals(before.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, split)).toFloatVector(), middle.params().toFloatVector());
        assertArrayEquals(top.params().toFloatVector(), shared.from(3).network().params().toFloatVector());

        // A client cut at 3 sends [8, 32, 14, 14]: everything moves, the top's Adam in its second step, the middle's in its first.
        INDArray shallow = input(3, 8, 32, 14, 14);
        g = shared.trainOn(shallow, labels(4)).inputGradient();
        INDArray z = middle.forward(shallow);
        expected = middle.backward(top.backward(CrossEntropy.evaluate(top.forward(z), labels(4), true).gradient()));
        middleAdam.step(middle);
        topAdam.step(top);
        assertArrayEquals(expected.data().asFloat(), g.data().asFloat());
        assertArrayEquals(Nd4j.hstack(middle.params(), top.params()).toFloatVector(), server.params().toFloatVector());
        assertEquals(List.of(1, 2), shared.optimizers().stream().map(Optimizer::iterations).toList());
    }
}
