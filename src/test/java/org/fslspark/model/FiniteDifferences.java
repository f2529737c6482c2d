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
