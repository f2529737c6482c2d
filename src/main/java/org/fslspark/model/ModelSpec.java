package org.fslspark.model;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * What to build: a zoo model, its per-sample input shape, the number of classes, the cut and the
 * model's own integer hyper-parameters. Small and serializable, so every task builds its own copy
 * of the model; only flat parameter vectors travel.
 *
 * <p>For image models the input shape is [channels, height, width], the classes are the labels,
 * the cut is how many layers run on the client (for the ResNets: 1 = the stem, k + 1 = the stem and
 * stages 1..k) and there are no options, except the ResNets' {@code width} (channels of the stem and
 * first stage, {@code model.width}; absent at the model's default). For the {@code gpt}
 * language model the input shape is [context] (token ids), the classes are the vocabulary, the cut
 * is the block after which the model is cut, and the options are {@code width}, {@code depth} and
 * {@code heads} (see {@link #gpt}). Each zoo entry validates its options.
 */
public record ModelSpec(String name, long[] inputShape, int classes, int cut, Map<String, Integer> options)
        implements Serializable {
    public ModelSpec {
        inputShape = inputShape.clone();
        options = Collections.unmodifiableMap(new TreeMap<>(options)); // sorted: stable toString
    }

    /** A model without options (the image models). */
    public ModelSpec(String name, long[] inputShape, int classes, int cut) {
        this(name, inputShape, classes, cut, Map.of());
    }

    /**
     * A GPT-style decoder over {@code vocab} token ids and sequences of up to {@code context} tokens,
     * {@code depth} blocks of {@code width} channels and {@code heads} attention heads, cut after
     * block {@code cutBlock} (0: the zoo's default).
     */
    public static ModelSpec gpt(int vocab, int context, int width, int depth, int heads, int cutBlock) {
        return new ModelSpec("gpt", new long[]{context}, vocab, cutBlock, Map.of("width", width, "depth", depth, "heads", heads));
    }

    /** The same model cut elsewhere: {@code cut} in the model's cut units (0: its default). */
    public ModelSpec withCut(int cut) {
        return new ModelSpec(name, inputShape, classes, cut, options);
    }

    /** The option's value, or {@code fallback} when the spec does not set it. */
    public int option(String key, int fallback) {
        return options.getOrDefault(key, fallback);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSpec m && name.equals(m.name) && Arrays.equals(inputShape, m.inputShape)
                && classes == m.classes && cut == m.cut && options.equals(m.options);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(inputShape) + classes * 7 + cut + options.hashCode() * 13;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(inputShape) + "/" + classes + " cut " + cut + (options.isEmpty() ? "" : " " + options);
    }
}
