package org.fslspark.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.Arrays;

/**
 * An in-memory labelled image dataset. Pixels stay uint8 (one byte per value, CHW per sample, samples
 * back to back) so a partition costs a quarter of its float size; {@link #features} scales a minibatch
 * to [0, 1] floats on demand. Each sample keeps the id it had in its source dataset, so shares written by
 * {@code prepare} can be traced back and checked for overlap.
 */
public final class LabeledImages implements Samples, Serializable {
    private static final long serialVersionUID = 1L;

    private final int channels;
    private final int height;
    private final int width;
    private final int classes;
    private final byte[] pixels;
    private final int[] labels;
    private final long[] sampleIds;

    /**
     * @param pixels    n * channels * height * width unsigned bytes, CHW per sample; not copied
     * @param labels    n labels in [0, classes); not copied
     * @param sampleIds n ids (position in the source dataset), or null for 0..n-1
     */
    public LabeledImages(int channels, int height, int width, int classes, byte[] pixels, int[] labels, long[] sampleIds) {
        if (channels < 1 || height < 1 || width < 1) {
            throw new DataException("image shape must be positive, got [" + channels + ", " + height + ", " + width + "]");
        }
        if (classes < 1) {
            throw new DataException("classes must be at least 1, got " + classes);
        }
        long sampleBytes = (long) channels * height * width;
        if ((long) labels.length * sampleBytes != pixels.length) {
            throw new DataException(labels.length + " labels but " + pixels.length + " pixel bytes; expected "
                    + labels.length + " x " + sampleBytes);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new DataException("label " + labels[i] + " of sample " + i + " is outside [0, " + classes + ")");
            }
        }
        if (sampleIds == null) {
            sampleIds = new long[labels.length];
            for (int i = 0; i < sampleIds.length; i++) {
                sampleIds[i] = i;
            }
        } else if (sampleIds.length != labels.length) {
            throw new DataException(labels.length + " labels but " + sampleIds.length + " sample ids");
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.classes = classes;
        this.pixels = pixels;
        this.labels = labels;
        this.sampleIds = sampleIds;
    }

    public LabeledImages(int channels, int height, int width, int classes, byte[] pixels, int[] labels) {
        this(channels, height, width, classes, pixels, labels, null);
    }

    /** Number of samples. */
    @Override
    public int size() {
        return labels.length;
    }

    public int channels() {
        return channels;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int classes() {
        return classes;
    }

    /** Bytes per sample: channels * height * width. */
    public int sampleBytes() {
        return channels * height * width;
    }

    /** The raw uint8 pixels, CHW per sample (the backing array, not a copy). */
    public byte[] pixels() {
        return pixels;
    }

    /** All labels (the backing array, not a copy). */
    public int[] labels() {
        return labels;
    }

    /** Ids of the samples in their source dataset (the backing array, not a copy). */
    public long[] sampleIds() {
        return sampleIds;
    }

    /** One sample's uint8 pixels, CHW (a copy). */
    public byte[] image(int index) {
        int s = sampleBytes();
        return Arrays.copyOfRange(pixels, index * s, index * s + s);
    }

    /** The samples at {@code indices} as a float tensor [b, c, h, w] with values scaled to [0, 1]. */
    @Override
    public INDArray features(int[] indices) {
        int s = sampleBytes();
        float[] out = new float[indices.length * s];
        for (int b = 0; b < indices.length; b++) {
            int from = checkIndex(indices[b]) * s;
            int to = b * s;
            for (int k = 0; k < s; k++) {
                out[to + k] = (pixels[from + k] & 0xff) / 255f;
            }
        }
        return Nd4j.create(out, new long[]{indices.length, channels, height, width}, 'c');
    }

    /** The labels of the samples at {@code indices}. */
    @Override
    public int[] labels(int[] indices) {
        int[] out = new int[indices.length];
        for (int b = 0; b < indices.length; b++) {
            out[b] = labels[checkIndex(indices[b])];
        }
        return out;
    }

    /** A new dataset holding copies of the samples at {@code indices}, in that order, with their ids. */
    public LabeledImages subset(int[] indices) {
        int s = sampleBytes();
        byte[] p = new byte[indices.length * s];
        int[] l = new int[indices.length];
        long[] ids = new long[indices.length];
        for (int b = 0; b < indices.length; b++) {
            int i = checkIndex(indices[b]);
            System.arraycopy(pixels, i * s, p, b * s, s);
            l[b] = labels[i];
            ids[b] = sampleIds[i];
        }
        return new LabeledImages(channels, height, width, classes, p, l, ids);
    }

    /** Count of samples per class, indexed by label. */
    public long[] labelHistogram() {
        long[] h = new long[classes];
        for (int label : labels) {
            h[label]++;
        }
        return h;
    }

    private int checkIndex(int i) {
        if (i < 0 || i >= labels.length) {
            throw new IndexOutOfBoundsException("sample index " + i + " outside [0, " + labels.length + ")");
        }
        return i;
    }

    @Override
    public String toString() {
        return "LabeledImages[" + size() + " x " + channels + "x" + height + "x" + width + ", " + classes + " classes]";
    }
}
