package org.fslspark.transport;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * The codec each kind of tensor travels in (transport.activation-codec, .gradient-codec,
 * .model-codec): activations, gradients, and models (client parts, whole models, auxiliary heads).
 * Labels and control values travel as int32 whatever the codecs.
 */
public record Codecs(Codec activations, Codec gradients, Codec models) implements Serializable {
    public static final Codecs FLOAT32 = new Codecs(Float32Codec.INSTANCE, Float32Codec.INSTANCE, Float32Codec.INSTANCE);

    public Codecs {
        if (models instanceof TopKCodec) {
            // A weight vector is no update: what top-k drops of it is lost, not carried.
            throw new IllegalArgumentException("models travel in float32, float16, bfloat16, int8 or int8:sample, not " + models.name());
        }
    }

    /** The codec of a kind's float values; null for labels and control. */
    public Codec of(Kind kind) {
        return switch (kind) {
            case ACTIVATIONS -> activations;
            case GRADIENTS -> gradients;
            case MODEL, AUXILIARY_MODEL -> models;
            case LABELS, CONTROL -> null;
        };
    }

    /** Whether a kind travels top-k, so its sender keeps {@link ErrorFeedback}. */
    public boolean sparsifies(Kind kind) {
        return of(kind) instanceof TopKCodec;
    }

    /** traffic.csv's codec of a kind (or of a row that is no kind): int32 for labels, none for control. */
    public String column(Kind kind) {
        Codec c = of(kind);
        return c != null ? c.name() : kind == Kind.LABELS ? "int32" : "none";
    }

    /**
     * {@code m} as it is sent: each float tensor in its kind's codec, a top-k tensor with the residual
     * of {@code feedback} added (null: none kept, as for a message that is sent once).
     */
    public Message prepare(Message m, ErrorFeedback feedback) {
        List<Tensor> out = new ArrayList<>(m.tensors().size());
        for (Tensor t : m.tensors()) {
            Codec c = t.isFloat() ? of(t.kind()) : null;
            if (c == null) {
                out.add(t);
            } else if (c instanceof TopKCodec k && feedback != null) {
                out.add(feedback.compensate(t, k));
            } else {
                out.add(t.withValues(t.floats(), c));
            }
        }
        return new Message(m.type(), m.client(), m.sequence(), out);
    }

    /** {@code m} as its receiver decodes it when sent in these codecs (a message sent once, without feedback). */
    public Message received(Message m) {
        return FrameCodec.decode(FrameCodec.encode(prepare(m, null)));
    }
}
