package org.fslspark.algorithm;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The registry a config name selects from: adding an algorithm is one file and one line here. */
public final class Algorithms {
    private Algorithms() {
    }

    private static final Map<String, Function<AlgorithmSettings, Algorithm>> REGISTRY = Map.of(
            "fedavg", s -> new FedAvg(),
            "sl", s -> new SplitLearning(),
            "splitfed-v1", s -> new SplitFedV1(),
            "splitfed-v2", s -> new SplitFedV2(),
            "cse-fsl", CseFsl::new,
            "fsl-sage", FslSage::new,
            "fsl-sage-oracle", FslSageOracle::new);

    public static List<String> names() {
        return REGISTRY.keySet().stream().sorted().toList();
    }

    public static Algorithm byName(String name, AlgorithmSettings settings) {
        Function<AlgorithmSettings, Algorithm> make = REGISTRY.get(name);
        if (make == null) {
            throw new IllegalArgumentException("unknown algorithm '" + name + "'; known: " + names());
        }
        return make.apply(settings);
    }
}
