package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Set;

/**
 * The rules of one training algorithm (ALGORITHMS.md): what a client does with a minibatch, what
 * the server does with what arrives, what is averaged at the end of a round. How messages travel,
 * where tasks run, timing and byte counting belong to the runtime.
 */
public interface Algorithm {

    /** How a round's messages flow between clients and the server. */
    enum Flow {
        /** Clients train alone; models are exchanged only between rounds (FedAvg). */
        LOCAL,
        /** Every minibatch goes up and its gradient comes back before the client can step. */
        PER_BATCH,
        /** Some minibatches go up; nothing comes back during the round. */
        ONE_WAY
    }

    /** A part of the model that is averaged across clients at the end of a round. */
    enum Part {
        /** The client part x_c. */
        CLIENT,
        /** The server part: per-client copies, at the server site (SplitFed-V1) or at the clients (FedAvg). */
        SERVER,
        /** The auxiliary models a_i. */
        AUXILIARY
    }

    /** The name a config selects it by. */
    String name();

    Flow flow();

    /** Clients take turns, each starting from the client weights the previous one left (SL). */
    default boolean sequentialClients() {
        return false;
    }

    /** Whether clients hold an auxiliary model a_i (CSE-FSL, FSL-SAGE). */
    default boolean usesAuxiliary() {
        return false;
    }

    /**
     * The config keys of {@link AlgorithmSettings} it reads, by their first segment ("server-interval", "auxiliary",
     * "alignment", "warm-start"); it ignores the others, so resume and sweep reuse do not compare them.
     */
    default Set<String> settingsRead() {
        return Set.of();
    }

    /** Whether the server aligns the auxiliary models at the start of {@code round}. */
    default boolean alignsAt(int round, boolean alignedBefore) {
        return false;
    }

    /** Aligns client {@code client}'s auxiliary model at the server; null when there is nothing to align on. */
    default AlignmentReport align(Server server, int client) {
        throw new UnsupportedOperationException(name() + " does not align auxiliary models");
    }

    /** Parts averaged (weighted FedAvg) at the end of each round. */
    Set<Part> averaged();

    /** Local iteration {@code k} (counted across the round's local epochs) of one client. */
    void clientStep(Client client, Batch batch, long k, ServerLink server);

    /** The server's handling of an uploaded batch: the gradient to return, or null when nothing is returned. */
    default INDArray serverStep(Server server, SmashedBatch batch) {
        throw new UnsupportedOperationException(name() + " sends nothing to the server during a round");
    }
}
