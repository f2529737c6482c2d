package org.fslspark.model;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What to build: a zoo model, its per-sample input shape, the number of classes and the cut (how
 * many of its layers run on the client side). Small and serializable, so every task builds its own
 * copy of the model; only flat parameter vectors travel.
 */
public record ModelSpec(String name, long[] inputShape, int classes, int cut) implements Serializable {
    public ModelSpec {
        inputShape = inputShape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSpec m && name.equals(m.name) && Arrays.equals(inputShape, m.inputShape)
                && classes == m.classes && cut == m.cut;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(inputShape) + classes * 7 + cut;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(inputShape) + "/" + classes + " cut " + cut;
    }
}
