package org.fslspark.transport;

import java.util.List;

/** One message between a client and the server: a type, the client it concerns, a sequence number and tensors. */
public record Message(Type type, int client, long sequence, List<Tensor> tensors) {

    public enum Type {
        /** Client to server: who is connecting. */
        HELLO,
        /** Client model weights, either way. */
        MODEL,
        /** Client to server: activations at the cut and labels. */
        SMASHED,
        /** Server to client: the gradient at the cut. */
        GRADIENT,
        /** Server to client: a refusal or failure, so a client never waits forever. */
        ERROR,
        /** Either way: the link probe's pings, bulk transfers and steps (runtime.LinkProbe); the sequence says which. */
        PROBE
    }

    public static Message of(Type type, int client, long sequence, Tensor... tensors) {
        return new Message(type, client, sequence, List.of(tensors));
    }

    public Tensor tensor(int i) {
        return tensors.get(i);
    }
}
