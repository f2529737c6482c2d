package org.fslspark.algorithm;

import org.fslspark.model.Network;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntFunction;
import java.util.function.IntUnaryOperator;

/**
 * The server part as the server site holds it: one shared model, or one copy per client
 * (SplitFed-V1), each with its own optimizer; and, for FSL-SAGE, each client's alignment buffer and
 * auxiliary model. When sites cut at different layers (docs/CUTS.md) the shared model begins at the shallowest
 * cut and each client's batches enter it at the client's own cut ({@link #shared(int)}); a copy covers its
 * client's layers from its cut.
 */
public final class Server {
    private final Learner shared;
    private final IntUnaryOperator entry;
    private final IntFunction<Learner> copyFactory;
    private final IntFunction<AlignmentBuffer> buffers;
    private final IntFunction<Learner> auxiliaries;
    private final IntFunction<Network> auxiliaryInDouble;
    private final Map<Integer, Learner> copies = new TreeMap<>();

    /** A server whose clients all enter the shared model at its first layer (one cut for every site). */
    public Server(Learner shared, IntFunction<Learner> copyFactory, IntFunction<AlignmentBuffer> buffers,
                  IntFunction<Learner> auxiliaries, IntFunction<Network> auxiliaryInDouble) {
        this(shared, client -> 0, copyFactory, buffers, auxiliaries, auxiliaryInDouble);
    }

    /**
     * @param entry        the layer of the shared model where client i's batches enter (its cut less the shallowest)
     * @param copyFactory  makes client i's copy of the server part (SplitFed-V1)
     * @param buffers      client i's alignment buffer, kept across rounds (FSL-SAGE)
     * @param auxiliaries  the server's copy of client i's auxiliary model, kept across rounds (FSL-SAGE)
     * @param auxiliaryInDouble makes a float64 network of client i's auxiliary model's architecture, where FSL-SAGE
     *                          computes the alignment gradient
     */
    public Server(Learner shared, IntUnaryOperator entry, IntFunction<Learner> copyFactory, IntFunction<AlignmentBuffer> buffers,
                  IntFunction<Learner> auxiliaries, IntFunction<Network> auxiliaryInDouble) {
        this.shared = shared;
        this.entry = entry;
        this.copyFactory = copyFactory;
        this.buffers = buffers;
        this.auxiliaries = auxiliaries;
        this.auxiliaryInDouble = auxiliaryInDouble;
    }

    /** A float64 network of client i's auxiliary model's architecture (its parameters are the caller's to set). */
    public Network auxiliaryInDouble(int client) {
        return auxiliaryInDouble.apply(client);
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

    /** The one server model as client i's batches go through it: from the client's cut on. */
    public Learner shared(int client) {
        return shared.from(entry.applyAsInt(client));
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
