package org.fslspark.config;

import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;

import java.io.Serializable;
import java.util.List;

/** An optimizer as configured; {@link #toUpdater()} makes ND4J's updater config from it. */
public record OptimizerSpec(String name, double learningRate, double momentum) implements Serializable {
    public static final List<String> NAMES = List.of("adam", "sgd", "nesterovs");

    public IUpdater toUpdater() {
        return switch (name) {
            case "adam" -> new Adam(learningRate);
            case "sgd" -> new Sgd(learningRate);
            case "nesterovs" -> new Nesterovs(learningRate, momentum);
            default -> throw new IllegalArgumentException("unknown optimizer '" + name + "'; known: " + NAMES);
        };
    }
}
