package org.fslspark.algorithm;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** The registry a config name selects from: adding an algorithm is one file and one line here. */
public final class Algorithms {
    private Algorithms() {
    }

    private static final Map<String, Supplier<Algorithm>> REGISTRY = Map.of(
            "fedavg", FedAvg::new,
            "sl", SplitLearning::new,
            "splitfed-v1", SplitFedV1::new,
            "splitfed-v2", SplitFedV2::new);

    public static List<String> names() {
        return REGISTRY.keySet().stream().sorted().toList();
    }

    public static Algorithm byName(String name) {
        Supplier<Algorithm> s = REGISTRY.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown algorithm '" + name + "'; known: " + names());
        }
        return s.get();
    }
}
