package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import static org.fslspark.data.TestData.hadoop;
import static org.fslspark.data.TestData.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdxReaderTest {
    private static final Configuration CONF = new Configuration();
    private final LabeledImages data = TestData.images(37, 1, 5, 4, 10, 1);

    @TempDir
    Path dir;

    private LabeledImages read(Path images, Path labels) {
        return IdxReader.read(CONF, hadoop(images), hadoop(labels), 10);
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' should contain '" + p + "'");
        }
    }

    @Test
    void rawAndGzippedIdxFilesReadBackTheWrittenImagesAndLabels() {
        Path ri = write(dir.resolve("raw-images"), TestData.idxImages(data));
        Path rl = write(dir.resolve("raw-labels"), TestData.idxLabels(data.labels()));
        Path gi = write(dir.resolve("images.gz"), TestData.gzip(TestData.idxImages(data)));
        Path gl = write(dir.resolve("labels.gz"), TestData.gzip(TestData.idxLabels(data.labels())));
        TestData.assertSameSamples(data, read(ri, rl));
        TestData.assertSameSamples(data, read(gi, gl));
    }

    @Test
    void gzipIsDetectedByMagicBytesNotByFileName() {
        Path gzNamedRaw = write(dir.resolve("images.idx"), TestData.gzip(TestData.idxImages(data)));
        Path rawNamedGz = write(dir.resolve("labels.gz"), TestData.idxLabels(data.labels()));
        TestData.assertSameSamples(data, read(gzNamedRaw, rawNamedGz));
    }

    @Test
    void truncatedGzipIsAnErrorNamingTheFile() {
        byte[] gz = TestData.gzip(TestData.idxImages(data));
        Path images = write(dir.resolve("trunc-images.gz"), Arrays.copyOf(gz, gz.length / 2));
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        DataException e = assertThrows(DataException.class, () -> read(images, labels));
        assertMessage(e, "trunc-images.gz", "truncated gzip");
    }

    @Test
    void gzipCutInsideItsHeaderIsAnErrorNamingTheFile() {
        Path images = write(dir.resolve("stub.gz"), new byte[]{0x1f, (byte) 0x8b, 8});
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(images, labels)), "stub.gz", "truncated gzip");
    }

    @Test
    void corruptGzipIsAnErrorNamingTheFile() {
        byte[] gz = TestData.gzip(TestData.idxImages(data));
        for (int i = 12; i < gz.length - 8; i += 3) {
            gz[i] ^= 0x5a; // scramble the deflate stream, keep the gzip header
        }
        Path images = write(dir.resolve("corrupt-images.gz"), gz);
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        DataException e = assertThrows(DataException.class, () -> read(images, labels));
        assertMessage(e, "corrupt-images.gz", "gzip");
    }

    @Test
    void gzipWithABadChecksumIsAnErrorNamingTheFile() {
        byte[] gz = TestData.gzip(TestData.idxImages(data));
        gz[gz.length - 6] ^= 0x01; // the CRC-32 in the trailer
        Path images = write(dir.resolve("crc-images.gz"), gz);
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(images, labels)), "crc-images.gz", "corrupt gzip");
    }

    @Test
    void truncatedRawFileIsAnErrorNamingTheFileAndWhatIsMissing() {
        byte[] raw = TestData.idxImages(data);
        Path images = write(dir.resolve("short-images"), Arrays.copyOf(raw, raw.length - 10));
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(images, labels)), "short-images", "truncated",
                "37 images of 5x4");
    }

    @Test
    void wrongMagicNumberIsAnErrorNamingTheFileAndBothNumbers() {
        byte[] raw = TestData.idxImages(data);
        ByteBuffer.wrap(raw).putInt(0x00000804);
        Path images = write(dir.resolve("bad-magic"), raw);
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(images, labels)), "bad-magic",
                "wrong IDX magic number 0x00000804", "expected 0x00000803");
    }

    @Test
    void swappedImagesAndLabelsFilesAreReportedAsSuch() {
        Path images = write(dir.resolve("images"), TestData.idxImages(data));
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(labels, images)), "labels", "swapped");
    }

    @Test
    void imageAndLabelCountMismatchIsAnErrorNamingBothFilesAndCounts() {
        Path images = write(dir.resolve("images"), TestData.idxImages(data));
        Path labels = write(dir.resolve("fewer-labels"), TestData.idxLabels(Arrays.copyOf(data.labels(), 30)));
        assertMessage(assertThrows(DataException.class, () -> read(images, labels)), "image/label count mismatch",
                "images", "37 images", "fewer-labels", "30 labels");
    }

    @Test
    void labelOutOfRangeIsAnErrorNamingTheFileIndexAndValue() {
        int[] labels = data.labels().clone();
        labels[17] = 12;
        Path images = write(dir.resolve("images"), TestData.idxImages(data));
        Path bad = write(dir.resolve("bad-labels"), TestData.idxLabels(labels));
        assertMessage(assertThrows(DataException.class, () -> read(images, bad)), "bad-labels", "label 12",
                "index 17", "[0, 10)");
    }

    @Test
    void missingFileIsAnErrorNamingIt() {
        Path labels = write(dir.resolve("labels"), TestData.idxLabels(data.labels()));
        assertMessage(assertThrows(DataException.class, () -> read(dir.resolve("no-such-images"), labels)),
                "no-such-images", "file not found");
    }

    @Test
    void featuresAreFloatNchwScaledToTheUnitInterval() {
        byte[] pixels = new byte[2 * 2 * 3];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 20);
        }
        pixels[11] = (byte) 255;
        LabeledImages d = new LabeledImages(2, 1, 3, 3, pixels, new int[]{2, 0});
        INDArray f = d.features(new int[]{1, 0});
        assertArrayEquals(new long[]{2, 2, 1, 3}, f.shape());
        assertEquals(1f, f.getFloat(0, 1, 0, 2), 1e-6); // sample 1, channel 1, column 2 = byte 11 = 255
        assertEquals(120 / 255f, f.getFloat(0, 0, 0, 0), 1e-6);
        assertEquals(20 / 255f, f.getFloat(1, 0, 0, 1), 1e-6);
        assertArrayEquals(new int[]{0, 2}, d.labels(new int[]{1, 0}));
        assertArrayEquals(new long[]{1, 0, 1}, d.labelHistogram());
        LabeledImages s = d.subset(new int[]{1});
        assertArrayEquals(new long[]{1}, s.sampleIds());
        assertArrayEquals(d.image(1), s.image(0));
    }
}
