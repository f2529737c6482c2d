package org.fslspark.transport;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire format. A frame is a message header followed by its tensors:
 * <pre>
 *   header : magic "FSL1" (4) | type (1) | client (4) | sequence (8) | tensor count (1)   = 18 bytes
 *   tensor : kind (1) | dtype (1) | rank (1) | shape (4 x rank) | values (4 x elements, little-endian)
 * </pre>
 * So a frame's wire bytes are its payload plus 18 + sum over tensors of (3 + 4 x rank): the framing
 * overhead the traffic tests check exactly.
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

    public static byte[] encode(Message m) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) frameBytes(m));
        try {
            write(m, bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return bytes.toByteArray();
    }

    public static Message decode(byte[] frame) {
        try {
            return read(new java.io.ByteArrayInputStream(frame));
        } catch (IOException e) {
            throw new TransportException("malformed frame: " + e.getMessage(), e);
        }
    }

    public static void write(Message m, OutputStream out) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(MAGIC);
        d.writeByte(m.type().ordinal());
        d.writeInt(m.client());
        d.writeLong(m.sequence());
        d.writeByte(m.tensors().size());
        for (Tensor t : m.tensors()) {
            d.writeByte(t.kind().ordinal());
            d.writeByte(t.isFloat() ? 0 : 1);
            d.writeByte(t.shape().length);
            for (long s : t.shape()) {
                d.writeInt((int) s);
            }
            ByteBuffer values = ByteBuffer.allocate((int) t.payloadBytes()).order(ByteOrder.LITTLE_ENDIAN);
            if (t.isFloat()) {
                values.asFloatBuffer().put(t.floats());
            } else {
                values.asIntBuffer().put(t.ints());
            }
            d.write(values.array());
        }
        d.flush();
    }

    /** Reads one frame; returns null on a clean end of stream before a frame starts. */
    public static Message read(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int magic;
        try {
            magic = d.readInt();
        } catch (EOFException e) {
            return null;
        }
        if (magic != MAGIC) {
            throw new TransportException(String.format("bad frame magic 0x%08x (expected 0x%08x)", magic, MAGIC));
        }
        Message.Type type = Message.Type.values()[d.readUnsignedByte()];
        int client = d.readInt();
        long sequence = d.readLong();
        int count = d.readUnsignedByte();
        List<Tensor> tensors = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Kind kind = Kind.values()[d.readUnsignedByte()];
            boolean isFloat = d.readUnsignedByte() == 0;
            long[] shape = new long[d.readUnsignedByte()];
            long elements = 1;
            for (int j = 0; j < shape.length; j++) {
                shape[j] = d.readInt();
                elements *= shape[j];
            }
            byte[] raw = new byte[Math.toIntExact(elements * 4)];
            d.readFully(raw);
            ByteBuffer values = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            if (isFloat) {
                float[] f = new float[(int) elements];
                values.asFloatBuffer().get(f);
                tensors.add(new Tensor(kind, shape, f, null));
            } else {
                int[] v = new int[(int) elements];
                values.asIntBuffer().get(v);
                tensors.add(new Tensor(kind, shape, null, v));
            }
        }
        return new Message(type, client, sequence, tensors);
    }
}
