package org.fslspark.transport;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Error feedback of the top-k streams one end sends: per kind of tensor (a client's activations, the
 * server's gradients to one client), what top-k left out of the last tensor, added to the next one of
 * the same shape before it is sparsified. A tensor of another shape (an epoch's last, smaller batch)
 * starts afresh and its residual replaces the old one. The runtime keeps one per stream in the
 * sending site's held state, so a rerun of a failed round starts from the residual the round started
 * with, and the arithmetic is the same every time.
 */
public final class ErrorFeedback {
    /** What top-k did not send of a tensor: its shape and values (zero where it sent). */
    public record Residual(long[] shape, float[] values) {
    }

    private final Map<Kind, Residual> residuals = new EnumMap<>(Kind.class);

    /** {@code t} plus the residual of its kind, to be sent by {@code codec}; keeps what that will not send. */
    public synchronized Tensor compensate(Tensor t, TopKCodec codec) {
        float[] v = t.floats().clone();
        Residual r = residuals.get(t.kind());
        if (r != null && Arrays.equals(r.shape(), t.shape())) {
            for (int i = 0; i < v.length; i++) {
                v[i] += r.values()[i];
            }
        }
        float[] left = v.clone();
        for (int i : codec.select(v)) {
            left[i] = 0;
        }
        residuals.put(t.kind(), new Residual(t.shape().clone(), left));
        return t.withValues(v, codec);
    }

    /** The residuals by kind, in the kinds' order, for the held state. */
    public synchronized Map<Kind, Residual> residuals() {
        return java.util.Collections.unmodifiableMap(new EnumMap<>(residuals));
    }

    /** Puts back saved residuals. */
    public synchronized void restore(Map<Kind, Residual> saved) {
        residuals.clear();
        residuals.putAll(saved);
    }
}
