package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Low-rank adaptation (LoRA) of a GPT's projections: every weight stays frozen at the base
 * checkpoint's value and each chosen projection W [in, out] gains adapters A [in, rank] and
 * B [rank, out], its output becoming {@code x W + (alpha / rank) x A B}. The networks' flat vectors
 * then hold only the adapters, so every algorithm trains, averages and sends only them; the base
 * is built on each site from the checkpoint ({@link ModelInit}).
 *
 * @param rank        the adapters' rank r; 0 = LoRA off
 * @param alpha       the adapters' scale is alpha / rank
 * @param projections which projections get adapters, a subset of {@link #PROJECTIONS}
 */
public record Lora(int rank, double alpha, List<String> projections) implements Serializable {
    /**
     * A block's projections: the query, key and value columns of the fused attention input
     * projection, the attention output projection, and the MLP's expanding and contracting layers.
     */
    public static final List<String> PROJECTIONS = List.of("query", "key", "value", "output", "mlp-in", "mlp-out");
    public static final Lora OFF = new Lora(0, 1, List.of());

    public Lora {
        projections = List.copyOf(projections);
    }

    public boolean enabled() {
        return rank > 0;
    }

    public double scale() {
        return alpha / rank;
    }

    /** The model's layers with the base parameters loaded and frozen, adapters on the chosen projections. */
    private record Adapted(List<Layer> layers, Network base, List<LoraDense> adapters) {
    }

    private Adapted adapt(ModelSpec spec, INDArray base, DataType type) {
        List<Layer> layers = ModelZoo.layers(spec);
        Network frozen = new Network(layers, spec.inputShape(), type);
        frozen.setParams(base);
        List<LoraDense> adapters = new ArrayList<>();
        TransformerBlock.Adapter adapter = (projection, parts) -> {
            List<Integer> chosen = new ArrayList<>();
            for (int i = 0; i < parts.length; i++) {
                if (projections.contains(parts[i])) {
                    chosen.add(i);
                }
            }
            if (chosen.isEmpty()) {
                return projection;
            }
            int width = projection.out() / parts.length; // parts split the output columns evenly
            int[] starts = chosen.stream().mapToInt(i -> i * width).toArray();
            LoraDense d = new LoraDense(projection, rank, scale(), starts, width);
            adapters.add(d);
            return d;
        };
        List<Layer> out = new ArrayList<>();
        for (Layer layer : layers) {
            layer.freeze();
            out.add(layer instanceof TransformerBlock block ? block.withProjections(adapter) : layer);
        }
        return new Adapted(out, frozen, adapters);
    }

    /** The unsplit adapted network over the base parameters {@code base} [1, n], adapters seeded. */
    public Network full(ModelSpec spec, INDArray base, long seed) {
        return full(spec, base, seed, DataType.FLOAT);
    }

    /** As {@link #full(ModelSpec, INDArray, long)} in another precision (gradient checks run in DOUBLE). */
    public Network full(ModelSpec spec, INDArray base, long seed, DataType type) {
        return new Network(adapt(spec, base, type).layers(), spec.inputShape(), type).initialize(new Random(seed));
    }

    /** The adapted model cut as the spec says; the adapters equal those of {@link #full} for the same seed. */
    public SplitModel split(ModelSpec spec, INDArray base, long seed) {
        List<Layer> layers = adapt(spec, base, DataType.FLOAT).layers();
        INDArray initial = new Network(layers, spec.inputShape()).initialize(new Random(seed)).params().dup();
        int cut = ModelZoo.cut(spec);
        // Rebinding the adapters to the two sides' vectors; the frozen base stays where it is.
        Network client = new Network(layers.subList(0, cut), spec.inputShape());
        Network server = new Network(layers.subList(cut, layers.size()), client.outputShape());
        SplitModel model = new SplitModel(client, server);
        model.setFullParams(initial);
        return model;
    }

    /** The base parameters with the adapters {@code adapters} (the full adapted network's vector) merged in. */
    public INDArray merge(ModelSpec spec, INDArray base, INDArray adapters) {
        Adapted a = adapt(spec, base, DataType.FLOAT);
        new Network(a.layers(), spec.inputShape()).setParams(adapters);
        a.adapters().forEach(LoraDense::mergeIntoBase);
        return a.base().params().dup();
    }
}
