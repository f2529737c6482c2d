package org.fslspark.transport;

/** What a tensor in a message is, for the traffic report. */
public enum Kind {
    ACTIVATIONS, LABELS, GRADIENTS, MODEL, AUXILIARY_MODEL, CONTROL;

    public String column() {
        return name().toLowerCase();
    }
}
