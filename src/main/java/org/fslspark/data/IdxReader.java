package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import java.nio.ByteBuffer;

/**
 * Reads MNIST-style IDX files (MNIST, Fashion-MNIST, KMNIST...): an images file of unsigned bytes with three
 * dimensions (magic 0x00000803) and a labels file of unsigned bytes with one dimension (magic 0x00000801),
 * each gzipped or not.
 */
public final class IdxReader {
    static final int IMAGES_MAGIC = 0x00000803;
    static final int LABELS_MAGIC = 0x00000801;

    private IdxReader() {
    }

    /**
     * Reads an images file and its labels file as one-channel images.
     *
     * @param classes labels must lie in [0, classes)
     * @throws DataException naming the file for a missing, truncated or corrupt file, a wrong magic number,
     *                       a count mismatch or a label out of range
     */
    public static LabeledImages read(Configuration conf, Path images, Path labels, int classes) {
        if (classes < 1 || classes > 256) {
            throw new DataException("classes must be in [1, 256] for IDX labels (one unsigned byte), got " + classes);
        }
        int n;
        int height;
        int width;
        byte[] pixels;
        String imagesName;
        try (DataFiles.Source in = DataFiles.open(conf, images)) {
            imagesName = in.name;
            int[] header = header(in, IMAGES_MAGIC, "images (unsigned bytes, 3 dimensions)");
            n = header[0];
            height = header[1];
            width = header[2];
            long bytes = (long) n * height * width;
            if (bytes > Integer.MAX_VALUE - 8) {
                throw new DataException(in.name + ": " + n + " images of " + height + "x" + width
                        + " do not fit in one in-memory dataset (" + bytes + " bytes)");
            }
            pixels = new byte[(int) bytes];
            in.readFully(pixels, n + " images of " + height + "x" + width);
            in.drain();
        }
        int[] out;
        try (DataFiles.Source in = DataFiles.open(conf, labels)) {
            int[] header = header(in, LABELS_MAGIC, "labels (unsigned bytes, 1 dimension)");
            if (header[0] != n) {
                throw new DataException("image/label count mismatch: " + imagesName + " holds " + n + " images but "
                        + in.name + " holds " + header[0] + " labels");
            }
            byte[] raw = new byte[n];
            in.readFully(raw, n + " labels");
            in.drain();
            out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = raw[i] & 0xff;
                if (out[i] >= classes) {
                    throw new DataException(in.name + ": label " + out[i] + " at index " + i
                            + " is out of range [0, " + classes + ")");
                }
            }
        }
        return new LabeledImages(1, height, width, classes, pixels, out);
    }

    /** Checks the magic number and returns the dimension sizes. */
    private static int[] header(DataFiles.Source in, int magic, String expected) {
        byte[] m = new byte[4];
        in.readFully(m, "the IDX magic number");
        int found = ByteBuffer.wrap(m).getInt();
        if (found != magic) {
            throw new DataException(in.name + ": wrong IDX magic number 0x" + String.format("%08x", found)
                    + ", expected 0x" + String.format("%08x", magic) + " for " + expected
                    + (found == IMAGES_MAGIC || found == LABELS_MAGIC ? " (images and labels files swapped?)" : ""));
        }
        int dims = magic & 0xff;
        byte[] d = new byte[4 * dims];
        in.readFully(d, "the IDX dimension sizes");
        ByteBuffer b = ByteBuffer.wrap(d);
        int[] sizes = new int[dims];
        for (int i = 0; i < dims; i++) {
            sizes[i] = b.getInt();
            if (sizes[i] < 0 || (i > 0 && sizes[i] == 0)) {
                throw new DataException(in.name + ": invalid IDX dimension " + i + " size " + sizes[i]);
            }
        }
        return sizes;
    }
}
