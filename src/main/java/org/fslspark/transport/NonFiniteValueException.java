package org.fslspark.transport;

/**
 * A frame refused because a float value is NaN or infinite: what a diverged sender produces (or a
 * hostile one). The runtime names the round, institute and minibatch from it.
 */
public final class NonFiniteValueException extends TransportException {
    private final Kind kind;
    private final long sequence;

    NonFiniteValueException(String message, Kind kind, long sequence) {
        super(message);
        this.kind = kind;
        this.sequence = sequence;
    }

    /** The kind of tensor that held the value. */
    public Kind kind() {
        return kind;
    }

    /** The frame's sequence number (a smashed batch's or gradient's local iteration), -1 before the header. */
    public long sequence() {
        return sequence;
    }
}
