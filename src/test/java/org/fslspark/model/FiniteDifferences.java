package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Central finite differences in double precision against analytic gradients, on sampled coordinates. */
final class FiniteDifferences {
    static final double EPS = 1e-6;

    private FiniteDifferences() {
    }

    /** Random double array with entries in [-1, 1), reproducible from the seed. */
    static INDArray random(long seed, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        double[] values = new Random(seed).doubles(n, -1, 1).toArray();
        return Nd4j.createFromArray(values).reshape('c', shape);
    }

    /**
     * Compares analytic[i] with (loss(x_i + eps) - loss(x_i - eps)) / 2 eps for each probed i, where
     * {@code values} is the (contiguous) array the loss reads.
     */
    static void check(String what, INDArray values, INDArray analytic, long[] probes, DoubleSupplier loss) {
        List<String> failures = new ArrayList<>();
        for (long i : probes) {
            double v = values.getDouble(i);
            values.putScalar(i, v + EPS);
            double plus = loss.getAsDouble();
            values.putScalar(i, v - EPS);
            double minus = loss.getAsDouble();
            values.putScalar(i, v);
            double numeric = (plus - minus) / (2 * EPS);
            double a = analytic.getDouble(i);
            if (Math.abs(a - numeric) > 1e-8 + 1e-5 * (Math.abs(a) + Math.abs(numeric))) {
                failures.add(String.format("%s[%d]: analytic %.9g, numeric %.9g", what, i, a, numeric));
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    /**
     * Checks a layer's analytic parameter and input gradients against central differences in
     * DOUBLE for the loss sum(output * R) with a fixed random R, i.e. dLoss/dOutput = R. With
     * {@code randomParams} the parameters are drawn from [-0.5, 0.5) instead of the layer's
     * initialisation (e.g. a layer norm's gain starts at 1, where a missing factor goes unseen).
     */
    static void checkLayer(Layer layer, boolean randomParams, long... inputShape) {
        checkLayers(List.of(layer), randomParams, 12, inputShape);
    }

    /** As {@link #checkLayer} for a stack of layers, probing {@code probesPerLayer} random parameters of each. */
    static void checkLayers(List<Layer> layers, boolean randomParams, int probesPerLayer, long... inputShape) {
        long[] sample = java.util.Arrays.copyOfRange(inputShape, 1, inputShape.length);
        Network net = new Network(layers, sample, DataType.DOUBLE).initialize(new Random(3));
        String what = net.describe();
        if (randomParams) {
            net.params().assign(random(4, net.params().shape()).muli(0.5));
        }
        INDArray x = random(5, inputShape);
        long[] outShape = net.forward(x).shape();
        INDArray r = random(7, outShape);

        net.zeroGrads();
        net.forward(x);
        INDArray gradInput = net.backward(r);
        INDArray paramGrads = net.grads().dup();
        DoubleSupplier loss = () -> net.forward(x).mul(r).sumNumber().doubleValue();

        if (net.numParams() > 0) {
            check(what + " params", net.params(), paramGrads, parameterProbes(net, probesPerLayer, 11), loss);
        }
        check(what + " input", x, gradInput, randomProbes(x.length(), 16, 13), loss);
    }

    /** Indices to probe: a few random ones in each layer's slice of the flat vector, plus its ends (biases). */
    static long[] parameterProbes(Network net, int perLayer, long seed) {
        Random rng = new Random(seed);
        List<Long> probes = new ArrayList<>();
        long offset = 0;
        for (Layer layer : net.layers()) {
            long n = layer.numParams();
            if (n > 0) {
                probes.add(offset);
                probes.add(offset + n - 1);
                for (int k = 0; k < perLayer; k++) {
                    probes.add(offset + (long) (rng.nextDouble() * n));
                }
            }
            offset += n;
        }
        return probes.stream().mapToLong(Long::longValue).toArray();
    }

    static long[] randomProbes(long length, int count, long seed) {
        Random rng = new Random(seed);
        long[] probes = new long[count];
        for (int i = 0; i < count; i++) {
            probes[i] = (long) (rng.nextDouble() * length);
        }
        return probes;
    }
}
