package org.fslspark.transport;

import java.io.IOException;

/** IEEE float32, 4 bytes a value, little-endian: exact, and the frames of the protocol before codecs existed. */
public final class Float32Codec implements Codec {
    public static final Float32Codec INSTANCE = new Float32Codec();

    private Float32Codec() {
    }

    @Override
    public int code() {
        return 0;
    }

    @Override
    public String name() {
        return "float32";
    }

    @Override
    public long payloadBytes(long[] shape) {
        return 4 * Codec.elements(shape);
    }

    /** Writes NaN and ±Inf as they are: the receiver refuses them, as it always has. */
    @Override
    public void encode(float[] values, long[] shape, byte[] out, int offset) {
        for (int i = 0; i < values.length; i++) {
            LittleEndian.putFloat(out, offset + 4 * i, values[i]);
        }
    }

    @Override
    public float[] decode(FrameInput in, long[] shape, int elements) throws IOException {
        in.claim(4L * elements);
        float[] f = new float[elements];
        for (int done = 0; done < elements; ) {
            int n = Math.min(elements - done, FrameInput.CHUNK_BYTES / 4);
            byte[] chunk = in.read(4 * n);
            for (int i = 0; i < n; i++) {
                f[done + i] = LittleEndian.getFloat(chunk, 4 * i);
            }
            done += n;
        }
        return f;
    }

    @Override
    public String toString() {
        return name();
    }

    private Object readResolve() {
        return INSTANCE;
    }
}
