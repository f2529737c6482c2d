package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads the binary versions of CIFAR-10 (records of 1 label byte + 3072 pixel bytes) and CIFAR-100 (coarse
 * label byte, fine label byte, 3072 pixel bytes; the fine label is used). Pixels are stored as 1024 red, 1024
 * green, 1024 blue values, row-major: already the CHW layout {@link LabeledImages} keeps. Files may be gzipped.
 */
public final class CifarReader {
    public static final int CHANNELS = 3;
    public static final int SIDE = 32;
    public static final int IMAGE_BYTES = CHANNELS * SIDE * SIDE;

    /** The two layouts. */
    public enum Variant {
        CIFAR_10(1, 10), CIFAR_100(2, 100);

        /** Label bytes before the pixels of each record. */
        public final int labelBytes;
        public final int classes;

        Variant(int labelBytes, int classes) {
            this.labelBytes = labelBytes;
            this.classes = classes;
        }

        public int recordBytes() {
            return labelBytes + IMAGE_BYTES;
        }

        /** CIFAR-10 for 10 classes, CIFAR-100 (fine labels) for 100. */
        public static Variant forClasses(int classes) {
            for (Variant v : values()) {
                if (v.classes == classes) {
                    return v;
                }
            }
            throw new DataException("CIFAR data has 10 (CIFAR-10) or 100 (CIFAR-100) classes, got classes = " + classes);
        }
    }

    private CifarReader() {
    }

    /** Reads one or several batch files, concatenated in the given order. */
    public static LabeledImages read(Configuration conf, Variant variant, List<Path> files) {
        if (files.isEmpty()) {
            throw new DataException("no CIFAR batch files given");
        }
        List<byte[]> contents = new ArrayList<>();
        List<String> names = new ArrayList<>();
        long records = 0;
        int rb = variant.recordBytes();
        for (Path p : files) {
            byte[] all;
            String name;
            try (DataFiles.Source in = DataFiles.open(conf, p)) {
                name = in.name;
                all = in.readAll();
            }
            if (all.length == 0 || all.length % rb != 0) {
                throw new DataException(name + ": " + all.length + " bytes is not a whole number of "
                        + variant + " records of " + rb + " bytes (truncated, or not a " + variant + " binary batch)");
            }
            records += all.length / rb;
            contents.add(all);
            names.add(name);
        }
        if (records * IMAGE_BYTES > Integer.MAX_VALUE - 8) {
            throw new DataException(records + " CIFAR images do not fit in one in-memory dataset");
        }
        int n = (int) records;
        byte[] pixels = new byte[n * IMAGE_BYTES];
        int[] labels = new int[n];
        int s = 0;
        for (int f = 0; f < contents.size(); f++) {
            byte[] all = contents.get(f);
            for (int r = 0; r < all.length / rb; r++, s++) {
                int off = r * rb;
                int label = all[off + variant.labelBytes - 1] & 0xff; // the last label byte: fine label for CIFAR-100
                if (label >= variant.classes) {
                    throw new DataException(names.get(f) + ": label " + label + " at index " + r
                            + " is out of range [0, " + variant.classes + ")");
                }
                labels[s] = label;
                System.arraycopy(all, off + variant.labelBytes, pixels, s * IMAGE_BYTES, IMAGE_BYTES);
            }
            contents.set(f, null); // let the file's bytes go before the next copy
        }
        return new LabeledImages(CHANNELS, SIDE, SIDE, variant.classes, pixels, labels);
    }
}
