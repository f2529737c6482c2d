package org.fslspark.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/** Small generated datasets and source files for the data tests. */
public final class TestData {
    private TestData() {
    }

    /** n random images of the given shape with labels cycling through the classes. */
    public static LabeledImages images(int n, int c, int h, int w, int classes, long seed) {
        Random r = new Random(seed);
        byte[] pixels = new byte[n * c * h * w];
        r.nextBytes(pixels);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % classes;
        }
        return new LabeledImages(c, h, w, classes, pixels, labels);
    }

    static byte[] idxImages(LabeledImages d) {
        ByteBuffer b = ByteBuffer.allocate(16 + d.pixels().length);
        b.putInt(IdxReader.IMAGES_MAGIC).putInt(d.size()).putInt(d.height()).putInt(d.width()).put(d.pixels());
        return b.array();
    }

    static byte[] idxLabels(int[] labels) {
        ByteBuffer b = ByteBuffer.allocate(8 + labels.length);
        b.putInt(IdxReader.LABELS_MAGIC).putInt(labels.length);
        for (int l : labels) {
            b.put((byte) l);
        }
        return b.array();
    }

    static byte[] gzip(byte[] raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** CIFAR binary records: CIFAR-10 (label byte) or CIFAR-100 (coarse, fine). */
    public static byte[] cifar(LabeledImages d, CifarReader.Variant v, int coarse) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < d.size(); i++) {
            if (v == CifarReader.Variant.CIFAR_100) {
                out.write(coarse);
            }
            out.write(d.labels()[i]);
            out.writeBytes(d.image(i));
        }
        return out.toByteArray();
    }

    public static Path write(Path file, byte[] content) {
        try {
            Files.createDirectories(file.getParent());
            return Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static org.apache.hadoop.fs.Path hadoop(Path p) {
        return new org.apache.hadoop.fs.Path(p.toUri());
    }

    static void assertSameSamples(LabeledImages expected, LabeledImages actual) {
        org.junit.jupiter.api.Assertions.assertAll(
                () -> org.junit.jupiter.api.Assertions.assertEquals(expected.size(), actual.size(), "size"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(
                        Arrays.asList(expected.channels(), expected.height(), expected.width(), expected.classes()),
                        Arrays.asList(actual.channels(), actual.height(), actual.width(), actual.classes()), "shape, classes"),
                () -> org.junit.jupiter.api.Assertions.assertArrayEquals(expected.labels(), actual.labels(), "labels"),
                () -> org.junit.jupiter.api.Assertions.assertArrayEquals(expected.pixels(), actual.pixels(), "pixels"),
                () -> org.junit.jupiter.api.Assertions.assertArrayEquals(expected.sampleIds(), actual.sampleIds(), "ids"));
    }
}
