package org.fslspark.algorithm;

import org.fslspark.model.Network;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The server part as the server site holds it: one shared model, or one copy per client
 * (SplitFed-V1), each with its own optimizer; and, for FSL-SAGE, each client's alignment buffer and
 * auxiliary model.
 */
public final class Server {
    private final Learner shared;
    private final IntFunction<Learner> copyFactory;
    private final IntFunction<AlignmentBuffer> buffers;
    private final IntFunction<Learner> auxiliaries;
    private final Supplier<Network> auxiliaryInDouble;
    private final Map<Integer, Learner> copies = new TreeMap<>();

    /**
     * @param copyFactory  makes client i's copy of the server part (SplitFed-V1)
     * @param buffers      client i's alignment buffer, kept across rounds (FSL-SAGE)
     * @param auxiliaries  the server's copy of client i's auxiliary model, kept across rounds (FSL-SAGE)
     * @param auxiliaryInDouble makes a float64 network of the auxiliary model's architecture, where FSL-SAGE
     *                          computes the alignment gradient
     */
    public Server(Learner shared, IntFunction<Learner> copyFactory, IntFunction<AlignmentBuffer> buffers,
                  IntFunction<Learner> auxiliaries, Supplier<Network> auxiliaryInDouble) {
        this.shared = shared;
        this.copyFactory = copyFactory;
        this.buffers = buffers;
        this.auxiliaries = auxiliaries;
        this.auxiliaryInDouble = auxiliaryInDouble;
    }

    /** A float64 network of the auxiliary model's architecture (its parameters are the caller's to set). */
    public Network auxiliaryInDouble() {
        return auxiliaryInDouble.get();
    }

    public AlignmentBuffer buffer(int client) {
        return buffers.apply(client);
    }

    public Learner auxiliary(int client) {
        return auxiliaries.apply(client);
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
