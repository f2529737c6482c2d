package org.fslspark.algorithm;

/**
 * What one client holds while it trains: its part of the model and, depending on the algorithm, a
 * local copy of the top (FedAvg trains the whole model locally) and an auxiliary head
 * (CSE-FSL, FSL-SAGE). Each part brings its own optimizer, whose state the client keeps across rounds.
 */
public final class Client {
    private final int id;
    private final Learner model;
    private final Learner top;
    private final Learner auxiliary;

    public Client(int id, Learner model, Learner top, Learner auxiliary) {
        this.id = id;
        this.model = model;
        this.top = top;
        this.auxiliary = auxiliary;
    }

    public int id() {
        return id;
    }

    /** The client part x_c. */
    public Learner model() {
        return model;
    }

    /** A local copy of the server part; only algorithms that train the whole model at the client have one. */
    public Learner top() {
        if (top == null) {
            throw new IllegalStateException("client " + id + " holds no copy of the server part");
        }
        return top;
    }

    /** The parts it holds, by name ("model", "top", "auxiliary"), in that order. */
    public java.util.Map<String, Learner> learners() {
        java.util.Map<String, Learner> parts = new java.util.LinkedHashMap<>();
        parts.put("model", model);
        if (top != null) {
            parts.put("top", top);
        }
        if (auxiliary != null) {
            parts.put("auxiliary", auxiliary);
        }
        return parts;
    }

    /** The auxiliary model a_i. */
    public Learner auxiliary() {
        if (auxiliary == null) {
            throw new IllegalStateException("client " + id + " holds no auxiliary model");
        }
        return auxiliary;
    }
}
