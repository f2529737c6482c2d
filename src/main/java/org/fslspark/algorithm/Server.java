package org.fslspark.algorithm;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * The server part as the server site holds it: one shared model, or one copy per client
 * (SplitFed-V1), each with its own optimizer.
 */
public final class Server {
    private final Learner shared;
    private final IntFunction<Learner> copyFactory;
    private final Map<Integer, Learner> copies = new TreeMap<>();

    public Server(Learner shared, IntFunction<Learner> copyFactory) {
        this.shared = shared;
        this.copyFactory = copyFactory;
    }

    /** The one server model x_s. */
    public Learner shared() {
        return shared;
    }

    /** Client i's own copy x_s,i, made from the round's global server model on first use. */
    public Learner copyFor(int client) {
        return copies.computeIfAbsent(client, copyFactory::apply);
    }

    /** The per-client copies made this round, by client id. */
    public Map<Integer, Learner> copies() {
        return copies;
    }
}
