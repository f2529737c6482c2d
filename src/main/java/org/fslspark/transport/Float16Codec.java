package org.fslspark.transport;

import java.io.IOException;

/**
 * IEEE binary16, 2 bytes a value: 11 significant bits, normal range 2^-14 .. 65504, subnormals down
 * to 2^-24. Encoding rounds to nearest, ties to even (Java 17 has no Float.floatToFloat16); a value
 * that rounds beyond 65504 is refused, as the receiver would refuse the infinity it becomes.
 */
public final class Float16Codec implements Codec {
    public static final Float16Codec INSTANCE = new Float16Codec();
    /** Every half's float value, by its 16 bits: decoding is a table lookup. */
    private static final float[] VALUES = new float[1 << 16];
    /** |x| from which a float rounds to infinity: 65520, halfway between 65504 and 2^16. */
    private static final int OVERFLOW_BITS = 0x477FF000;
    /** 2^-14, the smallest normal half. */
    private static final int MIN_NORMAL_BITS = 0x38800000;

    static {
        for (int h = 0; h < VALUES.length; h++) {
            VALUES[h] = toFloat(h);
        }
    }

    private Float16Codec() {
    }

    @Override
    public int code() {
        return 2;
    }

    @Override
    public String name() {
        return "float16";
    }

    @Override
    public long payloadBytes(long[] shape) {
        return 2 * Codec.elements(shape);
    }

    @Override
    public void encode(float[] values, long[] shape, byte[] out, int offset) {
        for (int i = 0; i < values.length; i++) {
            int h = toHalf(values[i]);
            if (h < 0) {
                throw Codec.unsendable(name(), i, values[i], Float.isFinite(values[i]) ? "beyond float16's range of ±65504"
                        : "not finite");
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
                f[done + i] = VALUES[LittleEndian.getShort(chunk, 2 * i)];
            }
            done += n;
        }
        return f;
    }

    /** The half nearest to {@code x} (ties to even) as 16 bits, or -1 when it is not finite or rounds to infinity. */
    static int toHalf(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 16) & 0x8000;
        int a = bits & 0x7FFFFFFF;
        if (a >= OVERFLOW_BITS) {
            return -1;
        }
        if (a >= MIN_NORMAL_BITS) {
            // Rebias the exponent (127 - 15 = 112), then round the 13 dropped bits to nearest even;
            // a carry out of the significand steps into the next binade, as it should.
            int r = a - (112 << 23);
            return sign | (r + 0x0FFF + ((r >>> 13) & 1)) >>> 13;
        }
        // Below 2^-14 halves are multiples of 2^-24, the spacing of floats in [0.5, 1): adding 0.5f rounds
        // |x| to that grid in IEEE arithmetic (ties to even), and the low bits are the half's.
        return sign | (Float.floatToRawIntBits(Float.intBitsToFloat(a) + 0.5f) - 0x3F000000);
    }

    /** The value of half {@code h}. */
    static float toFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0) {
            float v = mantissa * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mantissa << 13);
        }
        return Float.intBitsToFloat(sign | (exponent + 112) << 23 | mantissa << 13);
    }

    @Override
    public String toString() {
        return name();
    }

    private Object readResolve() {
        return INSTANCE;
    }
}
