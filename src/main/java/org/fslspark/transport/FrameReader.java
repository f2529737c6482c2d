package org.fslspark.transport;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one frame under {@link FrameLimits}. Every byte comes from another site, so each count,
 * byte code and size the frame claims is checked before anything is allocated for it; values are
 * read in fixed chunks into arrays whose size was checked first, then checked themselves (floats
 * finite, labels in range). A refusal is a {@link TransportException} naming the check and the value.
 */
final class FrameReader {
    private static final int INT32 = 1;
    private static final Message.Type[] TYPES = Message.Type.values();
    private static final Kind[] KINDS = Kind.values();

    private final FrameLimits limits;
    private byte[] chunk = new byte[0]; // grown to at most CHUNK_BYTES as tensors need it
    private long allocated;
    private long wireBytes; // the frame's bytes so far, as sent: headers and claimed payloads
    private String from = "";
    private long sequence = -1;

    FrameReader(FrameLimits limits) {
        this.limits = limits;
    }

    /** Bytes the last {@link #read} allocated for tensor values (never more than the limits' frame cap). */
    long allocatedBytes() {
        return allocated;
    }

    /** Reads one frame; null on a clean end of stream before a frame starts. */
    Message read(InputStream in) throws IOException {
        allocated = 0;
        from = "";
        sequence = -1;
        int first = in.read();
        if (first < 0) {
            return null;
        }
        DataInputStream d = new DataInputStream(in);
        String where = "the header";
        try {
            int magic = (first << 24) | (d.readUnsignedByte() << 16) | d.readUnsignedShort();
            if (magic != FrameCodec.MAGIC) {
                throw refuse(String.format("bad frame magic 0x%08x (expected 0x%08x)", magic, FrameCodec.MAGIC));
            }
            int typeByte = d.readUnsignedByte();
            if (typeByte >= TYPES.length) {
                throw refuse("unknown message type byte " + typeByte);
            }
            Message.Type type = TYPES[typeByte];
            int client = d.readInt();
            from = " from client " + client;
            if (limits.client() >= 0 && client != limits.client()) {
                throw refuse("it claims client " + client + " on the channel of client " + limits.client());
            }
            sequence = d.readLong();
            int count = d.readUnsignedByte();
            if (count > limits.maxTensors()) {
                throw refuse("tensor count " + count + " over the limit " + limits.maxTensors());
            }
            List<List<Kind>> layouts = FrameLimits.LAYOUTS.get(type);
            if (limits.strict() && layouts.stream().noneMatch(l -> l.size() == count)) {
                throw refuse("a " + type + " message carries " + layouts + ", not " + count + " tensors");
            }
            // frameBytes counts every tensor as float32 would take it: what decoding allocates, within the cap
            // (codecs send less, but a frame must not make the reader allocate more than a float32 frame would).
            long frameBytes = FrameCodec.HEADER_BYTES;
            wireBytes = FrameCodec.HEADER_BYTES;
            List<Tensor> tensors = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                where = "tensor " + i;
                int kindByte = d.readUnsignedByte();
                if (kindByte >= KINDS.length) {
                    throw refuse("unknown tensor kind byte " + kindByte + " (tensor " + i + ")");
                }
                Kind kind = KINDS[kindByte];
                if (limits.strict() && !fitsLayout(layouts, count, tensors, i, kind)) {
                    throw refuse("tensor " + i + " of a " + type + " message is " + kind + "; the protocol has " + layouts);
                }
                List<FrameLimits.Shape> allowed = limits.shapes(kind);
                if (allowed != null && allowed.isEmpty()) {
                    throw refuse(kind + " tensors are not accepted here");
                }
                int dtype = d.readUnsignedByte();
                if (dtype != INT32 && !Codec.isFloatCode(dtype)) {
                    throw refuse("unknown dtype byte " + dtype + " of " + kind);
                }
                boolean isFloat = dtype != INT32;
                if (kind != Kind.CONTROL && isFloat != (kind != Kind.LABELS)) {
                    throw refuse(kind + " values must be " + (kind == Kind.LABELS ? "int32" : "floats"));
                }
                int rank = d.readUnsignedByte();
                if (rank < 1 || rank > FrameLimits.MAX_RANK) {
                    throw refuse("rank " + rank + " of " + kind + " outside 1.." + FrameLimits.MAX_RANK);
                }
                frameBytes += 3 + 4L * rank;
                wireBytes += 3 + 4L * rank;
                long[] shape = new long[rank];
                long elements = 1;
                for (int j = 0; j < rank; j++) {
                    int dim = d.readInt();
                    if (dim <= 0) {
                        throw refuse("dimension " + j + " of " + kind + " is " + dim + "; dimensions must be positive");
                    }
                    shape[j] = dim;
                    elements *= dim; // no overflow: at most 2^31 before (checked below), times at most 2^31
                    if (frameBytes + 4 * elements > limits.maxFrameBytes()) {
                        throw refuse(kind + " claims at least " + elements + " values (" + (frameBytes + 4 * elements)
                                + " frame bytes), over the cap of " + limits.maxFrameBytes() + " bytes");
                    }
                    if (elements > Integer.MAX_VALUE - 8) {
                        throw refuse(kind + " claims at least " + elements + " values, more than an array holds");
                    }
                }
                if (allowed != null && allowed.stream().noneMatch(s -> s.allows(shape))) {
                    throw refuse(kind + " shape " + java.util.Arrays.toString(shape) + " is not the expected "
                            + (allowed.size() == 1 ? allowed.get(0) : "one of " + allowed));
                }
                frameBytes += 4 * elements;
                tensors.add(values(d, kind, shape, (int) elements, dtype));
            }
            if (limits.labelsPerSample() > 0 && type == Message.Type.SMASHED) {
                checkLabels(tensors.get(0), tensors.get(1));
            }
            return new Message(type, client, sequence, tensors);
        } catch (EOFException e) {
            throw new TransportException("truncated frame" + from + ": the stream ended inside " + where, e);
        }
    }

    /** Whether {@code kind} at position i continues a layout of {@code count} tensors that the ones before follow. */
    private static boolean fitsLayout(List<List<Kind>> layouts, int count, List<Tensor> before, int i, Kind kind) {
        outer:
        for (List<Kind> l : layouts) {
            if (l.size() != count || l.get(i) != kind) {
                continue;
            }
            for (int j = 0; j < i; j++) {
                if (l.get(j) != before.get(j).kind()) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** Allocates the checked number of values, fills them chunk by chunk through the codec, and checks them. */
    private Tensor values(DataInputStream d, Kind kind, long[] shape, int elements, int dtype) throws IOException {
        allocated += 4L * elements;
        FrameInput in = new FrameInput(d, this, kind);
        if (dtype == INT32) {
            claim(kind, 4L * elements);
            int[] v = new int[elements];
            for (int done = 0; done < elements; ) {
                int n = Math.min(elements - done, FrameInput.CHUNK_BYTES / 4);
                byte[] bytes = in.read(4 * n);
                for (int i = 0; i < n; i++) {
                    v[done + i] = LittleEndian.getInt(bytes, 4 * i);
                }
                done += n;
            }
            return new Tensor(kind, shape, null, v);
        }
        Codec codec = switch (dtype) {
            case 0 -> Float32Codec.INSTANCE;
            case 2 -> Float16Codec.INSTANCE;
            case 3 -> BFloat16Codec.INSTANCE;
            case 4 -> Int8Codec.INSTANCE;
            case 6 -> Int8Codec.PER_SAMPLE;
            default -> TopKCodec.read(in);
        };
        float[] f = codec.decode(in, shape, elements);
        for (int i = 0; i < elements; i++) {
            if (!Float.isFinite(f[i])) {
                throw new NonFiniteValueException("refused frame" + from + ": " + kind + " value " + f[i] + " at index " + i
                        + " is not finite", kind, sequence);
            }
        }
        return new Tensor(kind, shape, f, null, codec);
    }

    /** Claims {@code bytes} of the frame for a tensor's values; refused when the frame would pass the cap. */
    void claim(Kind kind, long bytes) {
        if (wireBytes + bytes > limits.maxFrameBytes()) {
            throw refuse(kind + " claims " + bytes + " payload bytes (" + (wireBytes + bytes) + " frame bytes), over the cap of "
                    + limits.maxFrameBytes() + " bytes");
        }
        wireBytes += bytes;
    }

    /** The reusable chunk, grown to hold {@code bytes} (at most {@link FrameInput#CHUNK_BYTES}). */
    byte[] chunk(int bytes) {
        if (chunk.length < bytes) {
            chunk = new byte[Math.max(bytes, Math.min(FrameInput.CHUNK_BYTES, 2 * chunk.length))];
        }
        return chunk;
    }

    private void checkLabels(Tensor activations, Tensor labels) {
        long expected = activations.shape()[0] * limits.labelsPerSample();
        if (labels.elements() != expected) {
            throw refuse(labels.elements() + " labels for " + activations.shape()[0] + " samples (expected " + expected + ")");
        }
        int[] v = labels.ints();
        for (int i = 0; i < v.length; i++) {
            if (limits.classes() > 0 && (v[i] < 0 || v[i] >= limits.classes())) {
                throw refuse("label " + v[i] + " at index " + i + " outside [0, " + limits.classes() + ")");
            }
        }
    }

    TransportException refuse(String check) {
        return new TransportException("refused frame" + from + ": " + check);
    }
}
