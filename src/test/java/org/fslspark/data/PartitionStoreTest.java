package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.fslspark.data.TestData.hadoop;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PartitionStoreTest {
    private static final Configuration CONF = new Configuration();
    private final LabeledImages data = TestData.images(50, 3, 4, 5, 7, 11).subset(reversed(50));

    @TempDir
    Path dir;

    private static int[] reversed(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = n - 1 - i;
        }
        return a;
    }

    private static List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aWrittenShareReadsBackIdenticalWithItsSampleIds() throws IOException {
        Path loc = dir.resolve("osu");
        PartitionStore.PartitionInfo info = PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false);
        TestData.assertSameSamples(data, PartitionStore.read(CONF, hadoop(loc), "osu"));
        assertEquals(50, info.samples());
        assertArrayEquals(data.labelHistogram(), info.labelHistogram());
        assertTrue(names(loc).containsAll(List.of(PartitionStore.DATA_FILE, PartitionStore.SUCCESS)), names(loc).toString());
        assertEquals(List.of("osu"), names(dir), "no temporary sibling is left behind");
    }

    @Test
    void theFileFooterCarriesInstituteShapeClassesAndDatasetName() {
        Path loc = dir.resolve("umich");
        PartitionStore.write(CONF, hadoop(loc), "umich", "synthetic", data, false);
        try (ParquetImages.FileHandle h = new ParquetImages.FileHandle(CONF, hadoop(loc.resolve(PartitionStore.DATA_FILE)))) {
            Map<String, String> m = h.meta;
            assertEquals("umich", m.get("institute"));
            assertEquals("synthetic", m.get("dataset"));
            assertEquals(List.of("3", "4", "5", "7"), List.of(m.get("channels"), m.get("height"), m.get("width"), m.get("classes")));
            assertEquals(ParquetImages.schema(null), h.fileSchema());
        }
    }

    @Test
    void aTaskServingAnotherInstituteIsRefusedWithBothNamesAndThePath() {
        Path loc = dir.resolve("osu");
        PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false);
        PlacementException e = assertThrows(PlacementException.class, () -> PartitionStore.read(CONF, hadoop(loc), "iitb"));
        assertTrue(e.getMessage().contains("'iitb'") && e.getMessage().contains("'osu'")
                && e.getMessage().contains(loc.toString()), e.getMessage());
        assertThrows(PlacementException.class, () -> PartitionStore.requirePrepared(CONF, hadoop(loc), "iitb"));
        assertThrows(PlacementException.class, () -> PartitionStore.readTest(CONF, hadoop(loc)),
                "a training share is not readable as the test set");
    }

    @Test
    void theTestSetIsReadableAsTheTestSetButNotAsAnInstitutesShare() {
        Path loc = dir.resolve("test");
        PartitionStore.writeTest(CONF, hadoop(loc), "synthetic", data, false);
        TestData.assertSameSamples(data, PartitionStore.readTest(CONF, hadoop(loc)));
        TestData.assertSameSamples(data, PartitionStore.read(CONF, hadoop(loc), PartitionStore.TEST));
        assertThrows(PlacementException.class, () -> PartitionStore.read(CONF, hadoop(loc), "osu"));
    }

    @Test
    void requirePreparedReadsOnlyTheSummaryNotTheData() throws IOException {
        Path loc = dir.resolve("utaustin");
        PartitionStore.write(CONF, hadoop(loc), "utaustin", "synthetic", data, false);
        Files.delete(loc.resolve(PartitionStore.DATA_FILE)); // the driver's check must not need it
        PartitionStore.PartitionInfo info = PartitionStore.requirePrepared(CONF, hadoop(loc), "utaustin");
        assertEquals(new ImageShape(3, 4, 5), info.shape());
        assertEquals(7, info.classes());
        assertEquals(50, info.samples());
        assertArrayEquals(data.labelHistogram(), info.labelHistogram());
    }

    @Test
    void aLocationWithoutSuccessMarkerIsReportedIncomplete() throws IOException {
        Path loc = dir.resolve("osu");
        PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false);
        Files.delete(loc.resolve(PartitionStore.SUCCESS));
        DataException e = assertThrows(DataException.class, () -> PartitionStore.read(CONF, hadoop(loc), "osu"));
        assertTrue(e.getMessage().contains("incomplete") && e.getMessage().contains(loc.toString()), e.getMessage());
        DataException missing = assertThrows(DataException.class, () -> PartitionStore.read(CONF, hadoop(dir.resolve("none")), "osu"));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }

    @Test
    void anExistingLocationIsReplacedOnlyWithOverwrite() {
        Path loc = dir.resolve("osu");
        PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false);
        LabeledImages other = TestData.images(9, 3, 4, 5, 7, 12);
        DataException e = assertThrows(DataException.class,
                () -> PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", other, false));
        assertTrue(e.getMessage().contains("exists already"), e.getMessage());
        TestData.assertSameSamples(data, PartitionStore.read(CONF, hadoop(loc), "osu"));
        PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", other, true);
        TestData.assertSameSamples(other, PartitionStore.read(CONF, hadoop(loc), "osu"));
    }

    @Test
    void aFailedWriteLeavesNothingAtOrBesideTheLocation() throws IOException {
        Path blocker = TestData.write(dir.resolve("plain-file"), new byte[]{1});
        Path loc = blocker.resolve("osu");
        DataException e = assertThrows(DataException.class,
                () -> PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false));
        assertTrue(e.getMessage().contains("osu") && e.getMessage().contains("plain-file"), e.getMessage());
        assertEquals(List.of("plain-file"), names(dir));
        assertFalse(Files.isDirectory(blocker));
    }

    @Test
    void aCorruptDataFileIsAnErrorNamingIt() throws IOException {
        Path loc = dir.resolve("osu");
        PartitionStore.write(CONF, hadoop(loc), "osu", "synthetic", data, false);
        Path file = loc.resolve(PartitionStore.DATA_FILE);
        Files.write(file, new byte[]{'P', 'A', 'R', '1', 0, 0, 0});
        Files.deleteIfExists(loc.resolve("." + PartitionStore.DATA_FILE + ".crc"));
        DataException e = assertThrows(DataException.class, () -> PartitionStore.read(CONF, hadoop(loc), "osu"));
        assertTrue(e.getMessage().contains(PartitionStore.DATA_FILE), e.getMessage());
    }

    @Test
    void theFooterIsCheckedEvenWhenTheSummaryWasAlteredToNameTheReader() throws IOException {
        Path loc = dir.resolve("utaustin");
        PartitionStore.write(CONF, hadoop(loc), "utaustin", "synthetic", data, false);
        Path success = loc.resolve(PartitionStore.SUCCESS);
        Files.writeString(success, Files.readString(success).replace("institute=utaustin", "institute=osu"));
        Files.deleteIfExists(loc.resolve("." + PartitionStore.SUCCESS + ".crc"));
        PlacementException e = assertThrows(PlacementException.class, () -> PartitionStore.read(CONF, hadoop(loc), "osu"));
        assertTrue(e.getMessage().contains("'osu'") && e.getMessage().contains("'utaustin'"), e.getMessage());
    }
}
