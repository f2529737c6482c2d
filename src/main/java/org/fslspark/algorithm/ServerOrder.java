package org.fslspark.algorithm;

/** The order in which a server with one shared model takes the clients' minibatches. */
public enum ServerOrder {
    /** As they arrive: what a deployment does. */
    ARRIVAL,
    /** Client 0's whole round, then client 1's, ...: the reference simulation's order, deterministic. */
    CLIENT_BY_CLIENT
}
