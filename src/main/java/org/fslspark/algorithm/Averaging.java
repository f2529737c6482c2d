package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Weighted averaging of flat parameter vectors: x = sum_i w_i x_i with sum_i w_i = 1; and, when sites cut the model
 * at different layers (docs/CUTS.md), of each layer over the copies that hold it ({@link #byLayer}).
 */
public final class Averaging {
    private Averaging() {
    }

    /** Weights n_i / sum_j n_j, or 1/m each when {@code uniform}. */
    public static double[] weights(long[] samples, boolean uniform) {
        double[] w = new double[samples.length];
        double total = 0;
        for (long n : samples) {
            total += uniform ? 1 : n;
        }
        if (total <= 0) {
            throw new IllegalArgumentException("cannot average: no samples");
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (uniform ? 1 : samples[i]) / total;
        }
        return w;
    }

    public static INDArray average(List<INDArray> models, double[] weights) {
        if (models.isEmpty() || models.size() != weights.length) {
            throw new IllegalArgumentException(models.size() + " models but " + weights.length + " weights");
        }
        INDArray sum = models.get(0).mul(weights[0]);
        for (int i = 1; i < models.size(); i++) {
            if (models.get(i).length() != sum.length()) {
                throw new IllegalArgumentException("model " + i + " has " + models.get(i).length()
                        + " parameters, model 0 has " + sum.length());
            }
            sum.addi(models.get(i).mul(weights[i]));
        }
        return sum;
    }

    /**
     * A copy of layers [from, to) of the unsplit model: their parameters (offsets[from] to offsets[to] of its vector)
     * and the weight the copy counts with: the summed weights of the sites whose data trained it.
     */
    public record Copy(INDArray params, int from, int to, double weight) {
    }

    /**
     * Each layer averaged over the copies that hold it (docs/CUTS.md): x[l] = sum of w_c x_c[l] over the copies c with
     * from <= l < to, in the order given, whose weights sum to one for every layer (each site's weight goes to the
     * copy that trained the layer on its data). A layer only one copy holds is that copy's values. Where every copy
     * spans the same layers this is {@link #average} of the copies.
     *
     * @param offsets where each layer's parameters start in the unsplit vector, offsets[layers] being its length
     * @return the unsplit vector [1, offsets[layers]]
     */
    public static INDArray byLayer(long[] offsets, List<Copy> copies) {
        TreeSet<Integer> bounds = new TreeSet<>(List.of(0, offsets.length - 1));
        for (Copy c : copies) {
            long expected = offsets[c.to()] - offsets[c.from()];
            if (c.from() < 0 || c.to() > offsets.length - 1 || c.from() >= c.to() || c.params().length() != expected) {
                throw new IllegalArgumentException("a copy of layers " + c.from() + ".." + c.to() + " has " + c.params().length()
                        + " parameters; those layers have " + (c.from() < c.to() && c.to() < offsets.length ? expected : "none"));
            }
            bounds.add(c.from());
            bounds.add(c.to());
        }
        List<INDArray> pieces = new ArrayList<>();
        Integer from = bounds.first();
        for (Integer to = bounds.higher(from); to != null; from = to, to = bounds.higher(to)) {
            if (offsets[to] == offsets[from]) {
                continue; // layers without parameters
            }
            List<INDArray> held = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (Copy c : copies) {
                if (c.from() <= from && c.to() >= to) {
                    held.add(slice(c.params(), offsets[from] - offsets[c.from()], offsets[to] - offsets[c.from()]));
                    weights.add(c.weight());
                }
            }
            if (held.isEmpty()) {
                throw new IllegalArgumentException("no copy holds layers " + from + ".." + to);
            }
            pieces.add(held.size() == 1 ? held.get(0) : average(held, weights.stream().mapToDouble(Double::doubleValue).toArray()));
        }
        if (pieces.isEmpty()) {
            return Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 0);
        }
        return pieces.size() == 1 ? pieces.get(0).dup() : Nd4j.hstack(pieces);
    }

    /** Values [start, end) of a [1, n] vector: the vector itself when that is all of it. */
    private static INDArray slice(INDArray v, long start, long end) {
        INDArray row = v.reshape(1, v.length());
        return start == 0 && end == v.length() ? row : row.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(start, end));
    }
}
