package org.fslspark.algorithm;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AveragingTest {

    @Test
    void averagingIdenticalModelsIsTheIdentity() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 1, 1000);
        double[] w = Averaging.weights(new long[]{100, 3000, 7, 512}, false);
        INDArray avg = Averaging.average(List.of(x, x.dup(), x.dup(), x.dup()), w);
        assertArrayEquals(x.toFloatVector(), avg.toFloatVector(), 1e-6f);
    }

    @Test
    void unequalSampleCountsWeightTheAverage() {
        INDArray a = Nd4j.createFromArray(new float[]{0f, 10f}).reshape(1, 2);
        INDArray b = Nd4j.createFromArray(new float[]{4f, 2f}).reshape(1, 2);
        double[] w = Averaging.weights(new long[]{1, 3}, false);
        assertArrayEquals(new double[]{0.25, 0.75}, w, 1e-12);
        assertArrayEquals(new float[]{3f, 4f}, Averaging.average(List.of(a, b), w).toFloatVector(), 1e-6f);
    }

    @Test
    void uniformWeightsIgnoreSampleCounts() {
        assertArrayEquals(new double[]{0.5, 0.5}, Averaging.weights(new long[]{1, 3}, true), 1e-12);
    }

    @Test
    void mismatchedModelsAreRefused() {
        INDArray a = Nd4j.zeros(DataType.FLOAT, 1, 3);
        INDArray b = Nd4j.zeros(DataType.FLOAT, 1, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Averaging.average(List.of(a, b), new double[]{0.5, 0.5}));
        assertEquals("model 1 has 4 parameters, model 0 has 3", e.getMessage());
    }

    /**
     * Three layers of 2, 1 and 2 parameters: copy a holds layer 0 (weight 1/4), copy b layers 0-1 (3/4), copy s layers
     * 1-2 (1/4 at layer 1, where it stands for a's site; alone at layer 2, where its values are taken as they are).
     */
    @Test
    void eachLayerIsAveragedOverTheCopiesThatHoldIt() {
        long[] offsets = {0, 2, 3, 5};
        INDArray a = Nd4j.createFromArray(new float[]{4f, 8f}).reshape(1, 2);
        INDArray b = Nd4j.createFromArray(new float[]{0f, 4f, 12f}).reshape(1, 3);
        INDArray s = Nd4j.createFromArray(new float[]{20f, 0.1f, 0.3f}).reshape(1, 3);
        INDArray x = Averaging.byLayer(offsets, List.of(new Averaging.Copy(a, 0, 1, 0.25), new Averaging.Copy(b, 0, 2, 0.75),
                new Averaging.Copy(s.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1)), 1, 2, 0.25),
                new Averaging.Copy(s.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 3)), 2, 3, 1.0)));
        assertArrayEquals(new float[]{1f, 5f, 14f, 0.1f, 0.3f}, x.toFloatVector(), 1e-6f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Averaging.byLayer(offsets, List.of(new Averaging.Copy(a, 0, 2, 1.0))));
        assertEquals("a copy of layers 0..2 has 2 parameters; those layers have 3", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Averaging.byLayer(offsets, List.of(new Averaging.Copy(a, 0, 1, 1.0))));
        assertEquals("no copy holds layers 1..3", e.getMessage());
    }
}
