package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.fslspark.data.TestData.hadoop;
import static org.fslspark.data.TestData.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CifarReaderTest {
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    @Test
    void cifar10BatchesReadBackInFileOrder() {
        LabeledImages a = TestData.images(7, 3, 32, 32, 10, 1);
        LabeledImages b = TestData.images(5, 3, 32, 32, 10, 2);
        Path fa = write(dir.resolve("data_batch_1.bin"), TestData.cifar(a, CifarReader.Variant.CIFAR_10, 0));
        Path fb = write(dir.resolve("data_batch_2.bin"), TestData.gzip(TestData.cifar(b, CifarReader.Variant.CIFAR_10, 0)));
        LabeledImages d = CifarReader.read(CONF, CifarReader.Variant.CIFAR_10, List.of(hadoop(fa), hadoop(fb)));
        assertEquals(12, d.size());
        assertEquals(3, d.channels());
        assertEquals(10, d.classes());
        TestData.assertSameSamples(a, d.subset(new int[]{0, 1, 2, 3, 4, 5, 6}));
        assertArrayEquals(b.pixels(), d.subset(new int[]{7, 8, 9, 10, 11}).pixels());
        assertArrayEquals(b.labels(), d.labels(new int[]{7, 8, 9, 10, 11}));
    }

    @Test
    void cifar100UsesTheFineLabelNotTheCoarseOne() {
        LabeledImages a = TestData.images(120, 3, 32, 32, 100, 3);
        Path f = write(dir.resolve("train.bin"), TestData.cifar(a, CifarReader.Variant.CIFAR_100, 19));
        LabeledImages d = CifarReader.read(CONF, CifarReader.Variant.CIFAR_100, List.of(hadoop(f)));
        assertEquals(100, d.classes());
        TestData.assertSameSamples(a, d);
    }

    @Test
    void truncatedBatchIsAnErrorNamingTheFileAndRecordSize() {
        LabeledImages a = TestData.images(3, 3, 32, 32, 10, 1);
        byte[] raw = TestData.cifar(a, CifarReader.Variant.CIFAR_10, 0);
        Path f = write(dir.resolve("cut.bin"), Arrays.copyOf(raw, raw.length - 100));
        DataException e = assertThrows(DataException.class,
                () -> CifarReader.read(CONF, CifarReader.Variant.CIFAR_10, List.of(hadoop(f))));
        assertTrue(e.getMessage().contains("cut.bin") && e.getMessage().contains("3073"), e.getMessage());
    }

    @Test
    void labelOutOfRangeIsAnErrorNamingTheFileIndexAndValue() {
        LabeledImages a = TestData.images(3, 3, 32, 32, 10, 1);
        byte[] raw = TestData.cifar(a, CifarReader.Variant.CIFAR_10, 0);
        raw[2 * 3073] = 10;
        Path f = write(dir.resolve("bad.bin"), raw);
        DataException e = assertThrows(DataException.class,
                () -> CifarReader.read(CONF, CifarReader.Variant.CIFAR_10, List.of(hadoop(f))));
        assertTrue(e.getMessage().contains("bad.bin") && e.getMessage().contains("label 10")
                && e.getMessage().contains("index 2"), e.getMessage());
    }

    @Test
    void missingBatchIsAnErrorNamingIt() {
        DataException e = assertThrows(DataException.class, () -> CifarReader.read(CONF, CifarReader.Variant.CIFAR_10,
                List.of(hadoop(dir.resolve("data_batch_9.bin")))));
        assertTrue(e.getMessage().contains("data_batch_9.bin") && e.getMessage().contains("not found"), e.getMessage());
    }
}
