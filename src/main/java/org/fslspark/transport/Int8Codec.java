package org.fslspark.transport;

import java.io.IOException;

/**
 * 8-bit affine quantisation per row: each row travels as its offset and step (float32 each) and one
 * unsigned byte q per value, decoded as offset + q × step. For {@code int8} a row is one (sample,
 * channel) slice of a tensor of rank 3 or more ([b, c, h, w]: h × w values; [b, t, d]: the d values
 * of a token), one sample of a rank-2 tensor, and the whole of a vector; for {@code int8:sample} a row
 * is one sample of a tensor of rank 2 or more (fewer rows: nearer 4× smaller than float32, at a
 * coarser step where a sample's channels differ in range). The offset is the row's minimum and the
 * step (max − min) / 255 rounded up to a float, so every value decodes within half a step (plus the
 * final rounding to float32); a row of equal values decodes exactly, and so do zeros that are a
 * row's minimum (ReLU activations).
 */
public final class Int8Codec implements Codec {
    /** A row per (sample, channel). */
    public static final Int8Codec INSTANCE = new Int8Codec(false);
    /** A row per sample. */
    public static final Int8Codec PER_SAMPLE = new Int8Codec(true);
    private static final int LEVELS = 255;

    private final boolean perSample;

    private Int8Codec(boolean perSample) {
        this.perSample = perSample;
    }

    @Override
    public int code() {
        return perSample ? 6 : 4;
    }

    @Override
    public String name() {
        return perSample ? "int8:sample" : "int8";
    }

    /**
     * Rows of a tensor of {@code shape}: per (sample, channel), the product of its first two dimensions
     * from rank 3; per sample, the first from rank 3; the first at rank 2; else 1.
     */
    long rows(long[] shape) {
        return shape.length >= 3 ? (perSample ? shape[0] : shape[0] * shape[1]) : shape.length == 2 ? shape[0] : 1;
    }

    /** n values and 8 bytes (offset, step) per row. */
    @Override
    public long payloadBytes(long[] shape) {
        return Codec.elements(shape) + 8 * rows(shape);
    }

    @Override
    public void encode(float[] values, long[] shape, byte[] out, int offset) {
        int rows = (int) rows(shape);
        int len = values.length / rows;
        int at = offset;
        for (int r = 0; r < rows; r++) {
            int from = r * len;
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = from; i < from + len; i++) {
                min = Math.min(min, values[i]);
                max = Math.max(max, values[i]);
            }
            if (!Float.isFinite(min) || !Float.isFinite(max)) { // NaN carries through min and max, ±Inf becomes one
                for (int i = from; ; i++) {
                    if (!Float.isFinite(values[i])) {
                        throw Codec.unsendable(name(), i, values[i], "not finite");
                    }
                }
            }
            float step = step(min, max);
            double inverse = step > 0 ? 1.0 / step : 0;
            LittleEndian.putFloat(out, at, min);
            LittleEndian.putFloat(out, at + 4, step);
            at += 8;
            double shifted = 0.5 - min * inverse; // (x - min) / step + 0.5, in one multiply-add
            for (int i = 0; i < len; i++) {
                // x - min >= 0, so adding a half and truncating rounds to nearest.
                int q = (int) (values[from + i] * inverse + shifted);
                out[at + i] = (byte) Math.min(q, LEVELS);
            }
            at += len;
        }
    }

    /**
     * (max − min) / 255 rounded up to a float, so 255 steps span the row and no value is clamped by more
     * than rounding; at least the smallest float when the row is not constant (a range of subnormals),
     * and stepped down when min + 255 steps would leave the float range.
     */
    static float step(float min, float max) {
        double exact = ((double) max - min) / LEVELS;
        float step = (float) exact;
        if (step < exact) {
            step = Math.nextUp(step);
        }
        while (min + (double) LEVELS * step > Float.MAX_VALUE) {
            step = Math.nextDown(step);
        }
        return step;
    }

    @Override
    public float[] decode(FrameInput in, long[] shape, int elements) throws IOException {
        int rows = (int) rows(shape);
        int len = elements / rows;
        int rowBytes = 8 + len;
        in.claim((long) rows * rowBytes);
        float[] f = new float[elements];
        if (rowBytes <= FrameInput.CHUNK_BYTES) {
            int perChunk = FrameInput.CHUNK_BYTES / rowBytes;
            for (int r = 0; r < rows; ) {
                int m = Math.min(perChunk, rows - r);
                byte[] chunk = in.read(m * rowBytes);
                for (int j = 0; j < m; j++, r++) {
                    dequantise(in, chunk, j * rowBytes, f, r * len, len);
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                byte[] head = in.read(8);
                float offset = LittleEndian.getFloat(head, 0);
                float step = LittleEndian.getFloat(head, 4);
                check(in, offset, step);
                for (int done = 0; done < len; ) {
                    int m = Math.min(len - done, FrameInput.CHUNK_BYTES);
                    byte[] chunk = in.read(m);
                    values(chunk, 0, offset, step, f, r * len + done, m);
                    done += m;
                }
            }
        }
        return f;
    }

    /** One row that lies whole in {@code chunk} at {@code at}: its offset, step and values. */
    private static void dequantise(FrameInput in, byte[] chunk, int at, float[] f, int to, int len) {
        float offset = LittleEndian.getFloat(chunk, at);
        float step = LittleEndian.getFloat(chunk, at + 4);
        check(in, offset, step);
        values(chunk, at + 8, offset, step, f, to, len);
    }

    private static void check(FrameInput in, float offset, float step) {
        if (!Float.isFinite(offset) || !(step >= 0 && step <= Float.MAX_VALUE)) {
            throw in.refuse("int8 row with offset " + offset + " and step " + step + " (a finite offset and step >= 0 expected)");
        }
    }

    private static void values(byte[] chunk, int at, float offset, float step, float[] f, int to, int len) {
        double o = offset;
        double s = step;
        for (int i = 0; i < len; i++) {
            f[to + i] = (float) (o + (chunk[at + i] & 0xFF) * s);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Int8Codec c && c.perSample == perSample;
    }

    @Override
    public int hashCode() {
        return Boolean.hashCode(perSample);
    }

    @Override
    public String toString() {
        return name();
    }

    private Object readResolve() {
        return perSample ? PER_SAMPLE : INSTANCE;
    }
}
