package org.fslspark.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPT's layers: analytic parameter and input gradients against central finite differences in
 * DOUBLE (loss sum(output * R), random parameters so that no factor hides behind a 1 or a 0), and
 * the few properties a finite difference cannot see.
 */
class TransformerLayerTest {

    @Test
    void layerNormGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayer(new LayerNorm(6), true, 2, 3, 6);
    }

    @Test
    void layerNormOnRowsGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayer(new LayerNorm(5), true, 4, 5);
    }

    /** PyTorch's LayerNorm: zero mean and unit biased variance (up to eps) per row, then gain and bias. */
    @Test
    void layerNormNormalisesEachRowWithEpsilon() {
        Network net = new Network(List.of(new LayerNorm(4)), new long[]{4}, DataType.DOUBLE).initialize(new Random(1));
        INDArray x = Nd4j.createFromArray(new double[][]{{1, 2, 3, 4}, {5, 5, 5, 5}});
        INDArray y = net.forward(x);
        double invStd = 1 / Math.sqrt(1.25 + 1e-5); // var of 1,2,3,4 is 1.25
        double[] expected = {-1.5 * invStd, -0.5 * invStd, 0.5 * invStd, 1.5 * invStd};
        for (int j = 0; j < 4; j++) {
            assertEquals(expected[j], y.getDouble(0, j), 1e-12);
            assertEquals(0, y.getDouble(1, j), 0); // a constant row: 0 / sqrt(eps), no NaN
        }
    }

    @Test
    void geluGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayer(new Gelu(), false, 2, 3, 5);
    }

    /** The tanh approximation, against the formula evaluated in Java at points where it differs from other GELUs. */
    @Test
    void geluIsTheTanhApproximation() {
        double[] xs = {-3, -1, -0.5, 0, 0.5, 2, 4};
        Network net = new Network(List.of(new Gelu()), new long[]{xs.length}, DataType.DOUBLE);
        INDArray y = net.forward(Nd4j.createFromArray(new double[][]{xs}));
        for (int i = 0; i < xs.length; i++) {
            double x = xs[i];
            double expected = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            assertEquals(expected, y.getDouble(0, i), 1e-12, "gelu(" + x + ")");
        }
    }

    @Test
    void geluMlpGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayers(List.of(new Dense(6, 24, 0.5), new Gelu(), new Dense(24, 6, 0.5)), false, 20, 2, 3, 6);
    }

    @Test
    void attentionGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayer(new CausalSelfAttention(8, 2, 0.02, 0.02), true, 2, 5, 8);
    }

    @Test
    void attentionWithManyNarrowHeadsGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayers(List.of(new CausalSelfAttention(8, 4, 0.02, 0.02)), true, 40, 3, 4, 8);
    }

    @Test
    void transformerBlockGradientsMatchFiniteDifferences() {
        FiniteDifferences.checkLayers(List.of(new TransformerBlock(8, 2, 2)), true, 60, 2, 4, 8);
    }

    /** A single-head attention computed by hand: the layer's fused projection layout, scale and causal mask. */
    @Test
    void attentionMatchesAHandComputedHead() {
        int t = 3;
        int w = 2;
        CausalSelfAttention attention = new CausalSelfAttention(w, 1, 0.02, 0.02);
        Network net = new Network(List.of(attention), new long[]{t, w}, DataType.DOUBLE).initialize(new Random(1));
        net.params().assign(FiniteDifferences.random(2, net.params().shape()));
        INDArray x = FiniteDifferences.random(3, 1, t, w);
        INDArray y = net.forward(x);
        // parameters: qkv weight [w, 3w], qkv bias [3w], projection weight [w, w], projection bias [w]
        double[] p = net.params().toDoubleVector();
        double[][] q = new double[t][w];
        double[][] k = new double[t][w];
        double[][] v = new double[t][w];
        for (int i = 0; i < t; i++) {
            for (int c = 0; c < 3 * w; c++) {
                double s = p[3 * w * w + c];
                for (int j = 0; j < w; j++) {
                    s += x.getDouble(0, i, j) * p[j * 3 * w + c];
                }
                (c < w ? q : c < 2 * w ? k : v)[i][c % w] = s;
            }
        }
        int proj = 3 * w * w + 3 * w;
        for (int i = 0; i < t; i++) {
            double[] scores = new double[i + 1];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j <= i; j++) {
                scores[j] = (q[i][0] * k[j][0] + q[i][1] * k[j][1]) / Math.sqrt(w);
                max = Math.max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j <= i; j++) {
                scores[j] = Math.exp(scores[j] - max);
                sum += scores[j];
            }
            double[] context = new double[w];
            for (int j = 0; j <= i; j++) {
                for (int c = 0; c < w; c++) {
                    context[c] += scores[j] / sum * v[j][c];
                }
            }
            for (int o = 0; o < w; o++) {
                double expected = p[proj + w * w + o];
                for (int c = 0; c < w; c++) {
                    expected += context[c] * p[proj + c * w + o];
                }
                assertEquals(expected, y.getDouble(0, i, o), 1e-12, "output at position " + i + ", channel " + o);
            }
        }
    }

    @Test
    void embeddingGradientsMatchFiniteDifferences() {
        Network net = new Network(List.of(new Embedding(7, 5, 4)), new long[]{5}, DataType.DOUBLE).initialize(new Random(1));
        INDArray ids = Nd4j.createFromArray(new double[][]{{3, 0, 3, 6, 3}, {6, 1, 0, 3, 2}}); // repeats within and across samples
        INDArray r = FiniteDifferences.random(7, 2, 5, 4);
        net.zeroGrads();
        net.forward(ids);
        assertNull(net.backward(r), "token ids have no gradient");
        INDArray grads = net.grads().dup();
        DoubleSupplier loss = () -> net.forward(ids).mul(r).sumNumber().doubleValue();
        long[] all = new long[(int) net.numParams()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        FiniteDifferences.check("embedding params", net.params(), grads, all, loss);
    }

    /** Shorter sequences (a prompt) use the first position rows; the rest of the table gets no gradient. */
    @Test
    void embeddingOfAShorterSequenceUsesTheFirstPositions() {
        Network net = new Network(List.of(new Embedding(3, 4, 2)), new long[]{4}, DataType.DOUBLE).initialize(new Random(1));
        INDArray y = net.forward(Nd4j.createFromArray(new double[][]{{2, 0}}));
        INDArray p = net.params().reshape(7, 2);
        assertEquals(p.getRow(2).add(p.getRow(3)), y.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                org.nd4j.linalg.indexing.NDArrayIndex.point(0)));
        assertEquals(p.getRow(0).add(p.getRow(4)), y.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                org.nd4j.linalg.indexing.NDArrayIndex.point(1)));
        net.zeroGrads();
        net.backward(Nd4j.ones(DataType.DOUBLE, 1, 2, 2));
        assertEquals(0, net.grads().reshape(7, 2).getRow(5).add(net.grads().reshape(7, 2).getRow(6)).amaxNumber().doubleValue());
    }

    /**
     * The token table's gradient counts every occurrence of an id: 50,000 positions over 4 ids.
     * libnd4j's scatter_add without its lock loses some of these additions.
     */
    @Test
    void embeddingGradientAccumulatesRepeatedIds() {
        int rows = 50_000;
        Network net = new Network(List.of(new Embedding(4, 1, 16)), new long[]{1}, DataType.DOUBLE).initialize(new Random(1));
        double[][] ids = new double[rows][1];
        for (int i = 0; i < rows; i++) {
            ids[i][0] = i % 4;
        }
        net.zeroGrads();
        net.forward(Nd4j.createFromArray(ids));
        net.backward(Nd4j.ones(DataType.DOUBLE, rows, 1, 16));
        INDArray g = net.grads().reshape(5, 16);
        for (int id = 0; id < 4; id++) {
            assertEquals(rows / 4.0, g.getRow(id).minNumber().doubleValue(), 0, "token " + id);
            assertEquals(rows / 4.0, g.getRow(id).maxNumber().doubleValue(), 0, "token " + id);
        }
        assertEquals(rows, g.getRow(4).minNumber().doubleValue(), 0, "position 0");
    }

    @Test
    void embeddingRefusesUnknownIdsAndLongSequences() {
        Network net = new Network(List.of(new Embedding(5, 3, 2)), new long[]{3}).initialize(new Random(1));
        String tooBig = assertThrows(IllegalArgumentException.class,
                () -> net.forward(Nd4j.createFromArray(new float[][]{{1, 5, 0}}))).getMessage();
        assertTrue(tooBig.contains("token id 5 outside [0, 5)"), tooBig);
        String negative = assertThrows(IllegalArgumentException.class,
                () -> net.forward(Nd4j.createFromArray(new float[][]{{-1, 2, 0}}))).getMessage();
        assertTrue(negative.contains("token id -1"), negative);
        String tooLong = assertThrows(IllegalArgumentException.class,
                () -> net.forward(Nd4j.createFromArray(new float[][]{{1, 2, 0, 1}}))).getMessage();
        assertTrue(tooLong.contains("1 <= time <= 3") && tooLong.contains("[4]"), tooLong);
    }
}
