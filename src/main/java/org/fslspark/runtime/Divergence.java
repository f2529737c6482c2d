package org.fslspark.runtime;

import org.fslspark.transport.NonFiniteValueException;

/**
 * A NaN or infinite loss, activation, gradient or model: the run stops (a rerun would compute the
 * same), naming the round, the institute and the minibatch; the last checkpoint stays resumable.
 */
public final class Divergence extends RuntimeException {
    /** How every divergence message starts, so that the driver recognises one in a failed stage's error text. */
    static final String MARKER = "diverged in round ";

    Divergence(String message, Throwable cause) {
        super(message, cause);
    }

    /** A non-finite value from {@code who} at minibatch {@code k} (-1: the model at the round's end) of {@code round}. */
    static Divergence of(int round, String who, long k, NonFiniteValueException cause) {
        return new Divergence(MARKER + round + ", " + who + ", " + (k >= 0 ? "minibatch " + k : "its model at the round's end")
                + ": " + cause.getMessage(), cause);
    }

    /** {@code failure} as a divergence of {@code who} in {@code round} if a non-finite value caused it, else itself. */
    static RuntimeException orItself(RuntimeException failure, int round, String who) {
        NonFiniteValueException n = nonFinite(failure);
        return n == null ? failure : of(round, who, n.sequence(), n);
    }

    /** The refusal of a non-finite value behind {@code failure} (however a channel wrapped it), or null. */
    static NonFiniteValueException nonFinite(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof NonFiniteValueException n) {
                return n;
            }
        }
        return null;
    }

    /** The divergence behind {@code failure} (a task's, as Spark reports it, or the driver's own), or null. */
    static Divergence in(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof Divergence d) {
                return d;
            }
            String m = t.getMessage();
            int at = m == null ? -1 : m.indexOf(MARKER);
            if (at >= 0) {
                String text = m.substring(at);
                int end = text.indexOf('\n');
                return new Divergence(end < 0 ? text : text.substring(0, end), failure);
            }
        }
        return null;
    }
}
