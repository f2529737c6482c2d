package org.fslspark.transport;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Counts what crosses one client site's link to the server site, by direction and kind of tensor.
 * A message's header is booked to the kind of its first tensor (CONTROL when it has none).
 */
public final class TrafficMeter implements Serializable {
    private final Map<Direction, Map<Kind, long[]>> counts = new EnumMap<>(Direction.class);

    /** The totals for one direction and kind: payload bytes, wire bytes, messages. */
    public record Count(Direction direction, Kind kind, long payloadBytes, long wireBytes, long messages)
            implements Serializable {
    }

    /** Tests only: sees every message any meter of this JVM books, i.e. everything that crosses a site boundary. */
    private static volatile BiConsumer<Direction, Message> observer;

    public static void observe(BiConsumer<Direction, Message> o) {
        observer = o;
    }

    public synchronized void record(Direction direction, Message m) {
        BiConsumer<Direction, Message> o = observer;
        if (o != null) {
            o.accept(direction, m);
        }
        Kind headerKind = m.tensors().isEmpty() ? Kind.CONTROL : m.tensors().get(0).kind();
        add(direction, headerKind, 0, FrameCodec.HEADER_BYTES, 1);
        for (Tensor t : m.tensors()) {
            add(direction, t.kind(), t.payloadBytes(), FrameCodec.tensorHeaderBytes(t) + t.payloadBytes(), 0);
        }
    }

    /**
     * Bytes that crossed the socket beyond the frames (TLS records), booked as CONTROL wire bytes with
     * no payload and no message; nothing when there were none.
     */
    public synchronized void recordTransport(Direction direction, long bytes) {
        if (bytes > 0) {
            add(direction, Kind.CONTROL, 0, bytes, 0);
        }
    }

    private void add(Direction d, Kind k, long payload, long wire, long messages) {
        long[] c = counts.computeIfAbsent(d, x -> new EnumMap<>(Kind.class)).computeIfAbsent(k, x -> new long[3]);
        c[0] += payload;
        c[1] += wire;
        c[2] += messages;
    }

    public synchronized List<Count> counts() {
        List<Count> out = new ArrayList<>();
        counts.forEach((d, byKind) -> byKind.forEach((k, c) -> out.add(new Count(d, k, c[0], c[1], c[2]))));
        return out;
    }
}
