package org.fslspark.transport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * The wire format. A frame is a message header followed by its tensors:
 * <pre>
 *   header : magic "FSL1" (4) | type (1) | client (4) | sequence (8) | tensor count (1)   = 18 bytes
 *   tensor : kind (1) | dtype (1) | rank (1) | shape (4 x rank) | values (the codec's payload, little-endian)
 * </pre>
 * So a frame's wire bytes are its payload plus 18 + sum over tensors of (3 + 4 x rank): the framing
 * overhead the traffic tests check exactly. Type, kind and dtype are byte codes (the enums' ordinals;
 * dtype 0 float32, 1 int32, 2 float16, 3 bfloat16, 4 int8, 5 top-k, 6 int8:sample: the {@link Codec}s, whose payloads
 * docs/CODECS.md lays out); shape entries are signed int32, big-endian like the header.
 *
 * <p>A frame from another site is untrusted: read it with {@link #read(InputStream, FrameLimits)}, which
 * checks every claim before allocating for it (docs/SECURITY.md lists the checks).
 */
public final class FrameCodec {
    public static final int MAGIC = 0x46534C31; // "FSL1"
    public static final int HEADER_BYTES = 18;

    private FrameCodec() {
    }

    public static int tensorHeaderBytes(Tensor t) {
        return 3 + 4 * t.shape().length;
    }

    public static long frameBytes(Message m) {
        long n = HEADER_BYTES;
        for (Tensor t : m.tensors()) {
            n += tensorHeaderBytes(t) + t.payloadBytes();
        }
        return n;
    }

    /** The frame of {@code m}, written in one array: its header, then each tensor's header and its codec's payload. */
    public static byte[] encode(Message m) {
        long size = frameBytes(m);
        if (size > Integer.MAX_VALUE - 8) {
            throw new TransportException("a " + m.type() + " frame of " + size + " bytes is more than an array holds");
        }
        byte[] frame = new byte[(int) size];
        ByteBuffer header = ByteBuffer.wrap(frame); // big-endian, like the header
        putHeader(header, m.type(), m.client(), m.sequence(), m.tensors().size());
        for (Tensor t : m.tensors()) {
            putTensorHeader(header, t.kind(), t.dtype(), t.shape());
            int at = header.position();
            if (t.isFloat()) {
                encode(t, m.sequence(), frame, at);
            } else {
                for (int i = 0; i < t.ints().length; i++) {
                    LittleEndian.putInt(frame, at + 4 * i, t.ints()[i]);
                }
            }
            header.position(at + (int) t.payloadBytes());
        }
        return frame;
    }

    /** The frame's header; {@code tensors} is checked to fit its byte. */
    static void putHeader(ByteBuffer b, Message.Type type, int client, long sequence, int tensors) {
        if (tensors > 255) {
            throw new TransportException("a frame holds at most 255 tensors, not " + tensors);
        }
        b.putInt(MAGIC).put((byte) type.ordinal()).putInt(client).putLong(sequence).put((byte) tensors);
    }

    /** A tensor's header: kind, dtype, rank and shape. */
    static void putTensorHeader(ByteBuffer b, Kind kind, int dtype, long[] shape) {
        b.put((byte) kind.ordinal()).put((byte) dtype).put((byte) shape.length);
        for (long s : shape) {
            b.putInt((int) s);
        }
    }

    /**
     * Decodes a frame this site encoded itself (held state, models on their way to the driver): any layout,
     * nothing allocated beyond four times its length (what float16, bfloat16 and int8 frames decode to) or
     * {@link FrameLimits#DEFAULT_MAX_FRAME_BYTES}.
     */
    public static Message decode(byte[] frame) {
        return decode(frame, FrameLimits.permissive(Math.max(4L * frame.length, FrameLimits.DEFAULT_MAX_FRAME_BYTES)));
    }

    /** Decodes a frame from another site under {@code limits} (see {@link #read(InputStream, FrameLimits)}). */
    public static Message decode(byte[] frame, FrameLimits limits) {
        try {
            Message m = read(new java.io.ByteArrayInputStream(frame), limits);
            if (m == null) {
                throw new TransportException("malformed frame: it is empty");
            }
            return m;
        } catch (IOException e) {
            throw new TransportException("malformed frame: " + e.getMessage(), e);
        }
    }

    /** Writes the frame of {@code m} and flushes {@code out}. */
    public static void write(Message m, OutputStream out) throws IOException {
        out.write(encode(m));
        out.flush();
    }

    /** The codec's encoding of {@code t}; a value it cannot send is refused naming the kind and the frame's sequence. */
    private static void encode(Tensor t, long sequence, byte[] out, int offset) {
        try {
            t.codec().encode(t.floats(), t.shape(), out, offset);
        } catch (NonFiniteValueException e) {
            throw new NonFiniteValueException(t.kind() + ": " + e.getMessage(), t.kind(), sequence);
        }
    }

    /**
     * Reads one frame under permissive limits capped at {@link FrameLimits#DEFAULT_MAX_FRAME_BYTES};
     * returns null on a clean end of stream before a frame starts.
     */
    public static Message read(InputStream in) throws IOException {
        return read(in, FrameLimits.permissive(FrameLimits.DEFAULT_MAX_FRAME_BYTES));
    }

    /**
     * Reads one frame from another site, checking it against {@code limits} before allocating
     * anything for it: magic, message type, client id, tensor count and layout, kind and dtype
     * bytes, rank, positive dimensions, the shape allowed for the kind, total bytes within the cap;
     * then float values finite and labels in range. A refusal is a {@link TransportException} naming
     * the check and the value; so is a stream that ends inside a frame. Returns null on a clean end
     * of stream before a frame starts; other I/O failures pass through as IOException.
     */
    public static Message read(InputStream in, FrameLimits limits) throws IOException {
        return new FrameReader(limits).read(in);
    }
}
