package org.fslspark.transport;

import java.io.IOException;

/**
 * bfloat16, 2 bytes a value: the upper half of a float32 (8 exponent bits, 8 significant bits), so
 * float32's whole range. Encoding rounds to nearest, ties to even; a value within half an ulp of
 * Float.MAX_VALUE that rounds to infinity is refused.
 */
public final class BFloat16Codec implements Codec {
    public static final BFloat16Codec INSTANCE = new BFloat16Codec();

    private BFloat16Codec() {
    }

    @Override
    public int code() {
        return 3;
    }

    @Override
    public String name() {
        return "bfloat16";
    }

    @Override
    public long payloadBytes(long[] shape) {
        return 2 * Codec.elements(shape);
    }

    @Override
    public void encode(float[] values, long[] shape, byte[] out, int offset) {
        for (int i = 0; i < values.length; i++) {
            int h = toBFloat16(values[i]);
            if (h < 0) {
                throw Codec.unsendable(name(), i, values[i], Float.isFinite(values[i]) ? "it rounds to infinity" : "not finite");
            }
            LittleEndian.putShort(out, offset + 2 * i, h);
        }
    }

    @Override
    public float[] decode(FrameInput in, long[] shape, int elements) throws IOException {
        in.claim(2L * elements);
        float[] f = new float[elements];
        for (int done = 0; done < elements; ) {
            int n = Math.min(elements - done, FrameInput.CHUNK_BYTES / 2);
            byte[] chunk = in.read(2 * n);
            for (int i = 0; i < n; i++) {
                f[done + i] = Float.intBitsToFloat(LittleEndian.getShort(chunk, 2 * i) << 16);
            }
            done += n;
        }
        return f;
    }

    /** The bfloat16 nearest to {@code x} (ties to even) as 16 bits, or -1 when it is not finite or rounds to infinity. */
    static int toBFloat16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7F800000) == 0x7F800000) {
            return -1; // NaN or infinite (a NaN's payload could carry into the sign below)
        }
        // Rounding on the bits is exact across subnormals and binades; an all-ones exponent is infinity.
        int h = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
        return (h & 0x7F80) == 0x7F80 ? -1 : h;
    }

    @Override
    public String toString() {
        return name();
    }

    private Object readResolve() {
        return INSTANCE;
    }
}
