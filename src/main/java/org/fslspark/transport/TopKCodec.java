package org.fslspark.transport;

import java.io.IOException;
import java.util.Arrays;

/**
 * Top-k sparsification: of a tensor's n values only the k = max(1, ⌊F × n⌋) of largest magnitude
 * travel, as (int32 index, float32 value) pairs in ascending index order after the fraction F
 * (float32); the rest decode as zero. Among values whose magnitude equals the k-th largest, the lower
 * indices are kept, so the choice is deterministic. What is not sent is not lost: the sender adds it
 * to the next tensor of the stream ({@link ErrorFeedback}).
 *
 * <p>F is at most 0.5: beyond it the pairs take more bytes than float32.
 */
public final class TopKCodec implements Codec {
    public static final float MAX_FRACTION = 0.5f;

    private final float fraction;

    public TopKCodec(float fraction) {
        if (!(fraction > 0 && fraction <= MAX_FRACTION)) {
            throw new IllegalArgumentException("topk:F needs a fraction F in (0, " + MAX_FRACTION + "], got " + fraction);
        }
        this.fraction = fraction;
    }

    public float fraction() {
        return fraction;
    }

    @Override
    public int code() {
        return 5;
    }

    @Override
    public String name() {
        return "topk:" + fraction;
    }

    /** Values kept of a tensor of n values. */
    public long kept(long n) {
        return Math.max(1, (long) Math.floor((double) fraction * n));
    }

    /** The fraction (4 bytes) and 8 bytes per kept value. */
    @Override
    public long payloadBytes(long[] shape) {
        return 4 + 8 * kept(Codec.elements(shape));
    }

    @Override
    public void encode(float[] values, long[] shape, byte[] out, int offset) {
        int[] kept = select(values);
        LittleEndian.putFloat(out, offset, fraction);
        int at = offset + 4;
        for (int i : kept) {
            LittleEndian.putInt(out, at, i);
            LittleEndian.putFloat(out, at + 4, values[i]);
            at += 8;
        }
    }

    /**
     * The indices of the k values of largest magnitude, ascending; ties at the k-th magnitude go to the
     * lower indices. A radix select on the magnitudes' bits (non-negative floats order as their bits):
     * four passes of one byte each find the k-th largest, a fifth collects.
     */
    int[] select(float[] values) {
        int k = (int) kept(values.length);
        int[] counts = new int[256];
        int prefix = 0;
        int mask = 0;
        int remaining = k; // how many of the values matching the prefix are still to be taken
        for (int shift = 24; shift >= 0; shift -= 8) {
            Arrays.fill(counts, 0);
            for (int i = 0; i < values.length; i++) {
                int a = Float.floatToRawIntBits(values[i]) & 0x7FFFFFFF;
                if (a >= 0x7F800000) {
                    throw Codec.unsendable(name(), i, values[i], "not finite");
                }
                if ((a & mask) == prefix) {
                    counts[(a >>> shift) & 0xFF]++;
                }
            }
            int digit = 255;
            while (counts[digit] < remaining) {
                remaining -= counts[digit--];
            }
            prefix |= digit << shift;
            mask |= 0xFF << shift;
        }
        int[] out = new int[k];
        for (int i = 0, j = 0; j < k; i++) {
            int a = Float.floatToRawIntBits(values[i]) & 0x7FFFFFFF;
            if (a > prefix || a == prefix && remaining-- > 0) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** The codec of a top-k tensor in a frame: its fraction, checked, from the payload's first four bytes. */
    static TopKCodec read(FrameInput in) throws IOException {
        in.claim(4);
        float fraction = Float.intBitsToFloat(in.intLE());
        if (!(fraction > 0 && fraction <= MAX_FRACTION)) {
            throw in.refuse("top-k fraction " + fraction + " outside (0, " + MAX_FRACTION + "]");
        }
        return new TopKCodec(fraction);
    }

    /** The pairs after the fraction ({@link #read} took it): indices strictly ascending within the tensor. */
    @Override
    public float[] decode(FrameInput in, long[] shape, int elements) throws IOException {
        int k = (int) kept(elements);
        in.claim(8L * k);
        float[] f = new float[elements];
        int last = -1;
        for (int done = 0; done < k; ) {
            int n = Math.min(k - done, FrameInput.CHUNK_BYTES / 8);
            byte[] chunk = in.read(8 * n);
            for (int j = 0; j < n; j++) {
                int i = LittleEndian.getInt(chunk, 8 * j);
                if (i <= last || i >= elements) {
                    throw in.refuse("top-k index " + i + " after " + last + " (indices must ascend within 0.." + (elements - 1) + ")");
                }
                f[i] = LittleEndian.getFloat(chunk, 8 * j + 4);
                last = i;
            }
            done += n;
        }
        return f;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TopKCodec t && Float.compare(t.fraction, fraction) == 0;
    }

    @Override
    public int hashCode() {
        return Float.hashCode(fraction);
    }

    @Override
    public String toString() {
        return name();
    }
}
