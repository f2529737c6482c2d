package org.fslspark.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Each layer's analytic gradients (parameters and input) match central finite differences in
 * DOUBLE precision for the loss sum(output * R) with a fixed random R, i.e. dLoss/dOutput = R.
 */
class LayerGradientTest {

    private static void checkLayer(Layer layer, long... inputShape) {
        FiniteDifferences.checkLayer(layer, false, inputShape);
    }

    @Test
    void conv2dGradientsMatchFiniteDifferences() {
        checkLayer(new Conv2d(3, 4, 3, 1, 1), 2, 3, 6, 6);
    }

    @Test
    void stridedUnpaddedConv2dGradientsMatchFiniteDifferences() {
        checkLayer(new Conv2d(2, 3, 3, 2, 0), 2, 2, 7, 7);
    }

    @Test
    void conv5x5Pad2GradientsMatchFiniteDifferences() {
        checkLayer(new Conv2d(1, 4, 5, 1, 2), 2, 1, 8, 8);
    }

    @Test
    void denseGradientsMatchFiniteDifferences() {
        checkLayer(new Dense(5, 4), 3, 5);
    }

    @Test
    void denseOnSequencesGradientsMatchFiniteDifferences() {
        checkLayer(new Dense(5, 4), 2, 3, 5);
    }

    @Test
    void reluGradientsMatchFiniteDifferences() {
        checkLayer(new Relu(), 2, 3, 4, 4);
    }

    @Test
    void overlappingPaddedMaxPoolGradientsMatchFiniteDifferences() {
        checkLayer(new MaxPool2d(3, 2, 1), 2, 3, 7, 7);
    }

    @Test
    void maxPool2x2GradientsMatchFiniteDifferences() {
        checkLayer(new MaxPool2d(2, 2, 0), 2, 3, 6, 6);
    }

    @Test
    void localResponseNormGradientsMatchFiniteDifferences() {
        // Strong normalisation so that the x^2 term matters (the zoo's alpha is nearly the identity).
        checkLayer(LocalResponseNorm.tensorflow(2, 2.0, 0.5, 0.75), 2, 7, 3, 3);
    }

    @Test
    void asymmetricLocalResponseNormGradientsMatchFiniteDifferences() {
        // PyTorch's window of an even size (c-2..c+1): the backward pass must mirror it; strong, as above.
        checkLayer(LocalResponseNorm.pytorch(4, 2.0, 0.75, 2.0), 2, 7, 3, 3);
    }

    @Test
    void zooLocalResponseNormGradientsMatchFiniteDifferences() {
        checkLayer(LocalResponseNorm.pytorch(4, 0.001 / 9.0, 0.75, 1.0), 2, 12, 3, 3);
        checkLayer(LocalResponseNorm.tensorflow(4, 1.0, 0.001 / 9.0, 0.75), 2, 12, 3, 3);
    }

    @Test
    void flattenGradientsMatchFiniteDifferences() {
        checkLayer(new Flatten(), 2, 3, 2, 2);
    }

    @Test
    void skippingTheInputGradientLeavesParameterGradientsUnchanged() {
        Network net = new Network(List.of(new Conv2d(1, 4, 5, 1, 2), new Relu()), new long[]{1, 8, 8}).initialize(new Random(1));
        INDArray x = FiniteDifferences.random(2, 3, 1, 8, 8).castTo(DataType.FLOAT);
        INDArray r = FiniteDifferences.random(4, 3, 4, 8, 8).castTo(DataType.FLOAT);
        net.zeroGrads();
        net.forward(x);
        net.backward(r, true);
        INDArray withInput = net.grads().dup();
        net.zeroGrads();
        net.forward(x);
        assertNull(net.backward(r, false));
        assertEquals(withInput, net.grads());
    }
}
