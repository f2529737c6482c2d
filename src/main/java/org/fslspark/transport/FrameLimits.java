package org.fslspark.transport;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What a receiving end accepts in a frame, checked by {@link FrameCodec#read(java.io.InputStream, FrameLimits)}
 * before it allocates anything: every byte from another site is untrusted.
 *
 * <p>Strict limits ({@link #of}) name, per tensor {@link Kind}, the shapes the experiment can
 * produce (e.g. activations {@code [1..b, 64, 7, 7]}, a model {@code [1, n]}); a kind without shapes
 * is refused, and each message type must carry the tensors the protocol gives it ({@link #LAYOUTS}).
 * Permissive limits ({@link #permissive}) accept any shape and layout but keep the caps, for frames
 * the driver encoded itself. Both cap the total frame bytes, so a 20-byte header can never make the
 * reader allocate more than the cap.
 */
public final class FrameLimits implements Serializable {
    /** Highest rank a tensor may claim ([b, c, h, w] is the largest the models use). */
    public static final int MAX_RANK = 6;
    /** Longest ERROR text, in code points. */
    public static final int MAX_ERROR_CHARS = 1 << 16;
    /** Permissive channels' cap on a frame (a client model of 64M parameters). */
    public static final long DEFAULT_MAX_FRAME_BYTES = 256L << 20;

    /** The tensors each message type carries, in order (the protocol, as the runtime sends it). */
    public static final Map<Message.Type, List<List<Kind>>> LAYOUTS = layouts();

    /**
     * A shape a tensor may take: dimension i lies in [min[i], max[i]], rank = min.length.
     * {@link #exact} fixes every dimension; {@link #batchOf} lets the first be a batch size.
     */
    public record Shape(long[] min, long[] max) implements Serializable {
        public Shape {
            if (min.length != max.length || min.length < 1 || min.length > MAX_RANK) {
                throw new IllegalArgumentException("a shape needs 1.." + MAX_RANK + " dimensions with a range each");
            }
            min = min.clone();
            max = max.clone();
        }

        public static Shape exact(long... dims) {
            return new Shape(dims, dims);
        }

        /** [1..maxBatch, perSample...]. */
        public static Shape batchOf(long maxBatch, long... perSample) {
            long[] min = new long[perSample.length + 1];
            long[] max = new long[perSample.length + 1];
            min[0] = 1;
            max[0] = maxBatch;
            System.arraycopy(perSample, 0, min, 1, perSample.length);
            System.arraycopy(perSample, 0, max, 1, perSample.length);
            return new Shape(min, max);
        }

        /** A vector of 1..max elements. */
        public static Shape upTo(long max) {
            return new Shape(new long[]{1}, new long[]{max});
        }

        public boolean allows(long[] shape) {
            if (shape.length != min.length) {
                return false;
            }
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] < min[i] || shape[i] > max[i]) {
                    return false;
                }
            }
            return true;
        }

        long maxElements() {
            long n = 1;
            for (long d : max) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public String toString() {
            List<String> dims = new ArrayList<>();
            for (int i = 0; i < min.length; i++) {
                dims.add(min[i] == max[i] ? Long.toString(min[i]) : min[i] + ".." + max[i]);
            }
            return "[" + String.join(", ", dims) + "]";
        }
    }

    private final long maxFrameBytes;
    private final int maxTensors;
    private final Map<Kind, List<Shape>> shapes; // null: any shape, any layout
    private final int client; // the client id every frame must carry, -1: any
    private final long labelsPerSample; // 0: labels not checked against the activations
    private final int classes; // labels lie in [0, classes); 0: unchecked

    private FrameLimits(long maxFrameBytes, int maxTensors, Map<Kind, List<Shape>> shapes, int client,
                        long labelsPerSample, int classes) {
        if (maxFrameBytes < FrameCodec.HEADER_BYTES) {
            throw new IllegalArgumentException("a frame cap below the header's " + FrameCodec.HEADER_BYTES + " bytes: " + maxFrameBytes);
        }
        this.maxFrameBytes = maxFrameBytes;
        this.maxTensors = maxTensors;
        this.shapes = shapes;
        this.client = client;
        this.labelsPerSample = labelsPerSample;
        this.classes = classes;
    }

    /** Any layout and shape, frames of at most {@code maxFrameBytes}. */
    public static FrameLimits permissive(long maxFrameBytes) {
        return new FrameLimits(maxFrameBytes, 4, null, -1, 0, 0);
    }

    /**
     * Only the given shapes per kind, in the protocol's layouts; the frame cap is what the largest
     * allowed message can take (two tensors of the largest allowed size and rank).
     */
    public static FrameLimits of(Map<Kind, List<Shape>> shapes) {
        Map<Kind, List<Shape>> copy = new EnumMap<>(Kind.class);
        long largest = 0;
        for (Map.Entry<Kind, List<Shape>> e : shapes.entrySet()) {
            copy.put(e.getKey(), List.copyOf(e.getValue()));
            for (Shape s : e.getValue()) {
                largest = Math.max(largest, 3 + 4L * s.min().length + 4 * s.maxElements());
            }
        }
        int maxTensors = LAYOUTS.values().stream().flatMap(List::stream).mapToInt(List::size).max().orElse(0);
        return new FrameLimits(FrameCodec.HEADER_BYTES + maxTensors * largest, maxTensors,
                Collections.unmodifiableMap(copy), -1, 0, 0);
    }

    /** These limits for the channel of client {@code id}: every frame must carry that id. */
    public FrameLimits forClient(int id) {
        return new FrameLimits(maxFrameBytes, maxTensors, shapes, id, labelsPerSample, classes);
    }

    /**
     * These limits where a SMASHED frame's labels count {@code perSample} targets per sample of its
     * activations, each in [0, classes).
     */
    public FrameLimits withLabels(long perSample, int classes) {
        return new FrameLimits(maxFrameBytes, maxTensors, shapes, client, perSample, classes);
    }

    public long maxFrameBytes() {
        return maxFrameBytes;
    }

    public int maxTensors() {
        return maxTensors;
    }

    /** Whether the protocol's layouts are enforced (strict limits). */
    public boolean strict() {
        return shapes != null;
    }

    /** The shapes allowed for {@code kind} (empty: refused), or null when any shape is allowed. */
    public List<Shape> shapes(Kind kind) {
        return shapes == null ? null : shapes.getOrDefault(kind, List.of());
    }

    /** The client id frames must carry, -1 for any. */
    public int client() {
        return client;
    }

    public long labelsPerSample() {
        return labelsPerSample;
    }

    public int classes() {
        return classes;
    }

    @Override
    public String toString() {
        return (strict() ? "frames of " + shapes : "any frame") + " up to " + maxFrameBytes + " bytes"
                + (client >= 0 ? " from client " + client : "");
    }

    private static Map<Message.Type, List<List<Kind>>> layouts() {
        Map<Message.Type, List<List<Kind>>> m = new EnumMap<>(Message.Type.class);
        m.put(Message.Type.HELLO, List.of(List.of()));
        // A client model; the local flow's client and server parts; a model with its auxiliary head; a head alone.
        m.put(Message.Type.MODEL, List.of(List.of(Kind.MODEL), List.of(Kind.MODEL, Kind.MODEL),
                List.of(Kind.MODEL, Kind.AUXILIARY_MODEL), List.of(Kind.AUXILIARY_MODEL)));
        m.put(Message.Type.SMASHED, List.of(List.of(Kind.ACTIVATIONS, Kind.LABELS)));
        m.put(Message.Type.GRADIENT, List.of(List.of(Kind.GRADIENTS)));
        m.put(Message.Type.ERROR, List.of(List.of(Kind.CONTROL)));
        m.put(Message.Type.PROBE, List.of(List.of(), List.of(Kind.CONTROL)));
        return Collections.unmodifiableMap(m);
    }
}
