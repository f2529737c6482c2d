package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.fslspark.data.TestData.hadoop;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class PrepareTest {
    private static final Configuration CONF = new Configuration();
    private static final List<String> SITES = List.of("osu", "utaustin", "umich", "iitb");
    private static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");

    @TempDir
    Path dir;

    private final LabeledImages train = TestData.images(400, 1, 6, 6, 10, 1);
    private final LabeledImages test = TestData.images(50, 1, 6, 6, 10, 2);

    private List<String> idxSources(String prefix, LabeledImages d) {
        return List.of(TestData.write(dir.resolve("src/" + prefix + "-images.gz"), TestData.gzip(TestData.idxImages(d))).toString(),
                TestData.write(dir.resolve("src/" + prefix + "-labels.gz"), TestData.gzip(TestData.idxLabels(d.labels()))).toString());
    }

    private List<PrepareSpec.Target> targets(Path out) {
        return SITES.stream().map(s -> new PrepareSpec.Target(s, out.resolve(s).toUri().toString())).toList();
    }

    private PrepareSpec idxSpec(Path out, PrepareSpec.Scheme scheme, double alpha, int subset, boolean overwrite) {
        return new PrepareSpec("synthetic", PrepareSpec.Format.IDX, idxSources("train", train), idxSources("test", test), 10,
                null, targets(out), scheme, alpha, null, 5, subset, out.resolve("test").toString(), overwrite);
    }

    private static List<String> tree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).filter(p -> !p.isEmpty()).sorted().toList();
        }
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' should contain '" + p + "'");
        }
    }

    /** Every share readable by its own institute only; together they hold each training sample once. */
    private static Set<Long> checkShares(Prepare.Result r, int expectedTotal) {
        Set<Long> ids = new HashSet<>();
        for (Prepare.Share s : r.shares()) {
            LabeledImages d = PartitionStore.read(CONF, new org.apache.hadoop.fs.Path(s.location()), s.institute());
            assertEquals(s.samples(), d.size());
            assertArrayEquals(s.labelHistogram(), d.labelHistogram());
            for (long id : d.sampleIds()) {
                assertTrue(ids.add(id), "sample " + id + " in two shares");
            }
            String other = SITES.get((SITES.indexOf(s.institute()) + 1) % SITES.size());
            assertThrows(PlacementException.class,
                    () -> PartitionStore.read(CONF, new org.apache.hadoop.fs.Path(s.location()), other));
        }
        assertEquals(expectedTotal, ids.size());
        return ids;
    }

    @Test
    void prepareSplitsRealFashionMnistAmongFourInstitutesAndPrintsTheirCounts() {
        Path images = FASHION.resolve("train-images-idx3-ubyte.gz");
        if (!Files.isReadable(images)) {
            fail("Fashion-MNIST is missing (" + images + "); install it with: apt-get install dataset-fashion-mnist");
        }
        Path out = dir.resolve("out");
        PrepareSpec spec = new PrepareSpec("fashion-mnist", PrepareSpec.Format.IDX,
                List.of(images.toString(), FASHION.resolve("train-labels-idx1-ubyte.gz").toString()),
                List.of(FASHION.resolve("t10k-images-idx3-ubyte.gz").toString(), FASHION.resolve("t10k-labels-idx1-ubyte.gz").toString()),
                10, null, targets(out), PrepareSpec.Scheme.DIRICHLET, 0.5, null, 42, 6000,
                out.resolve("_test").toString(), false);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Prepare.Result r = Prepare.run(CONF, spec, new PrintStream(printed, true, StandardCharsets.UTF_8));
        String table = printed.toString(StandardCharsets.UTF_8);
        System.out.print(table);
        checkShares(r, 6000);
        for (String s : SITES) {
            assertTrue(table.contains(s), table);
        }
        assertTrue(table.contains("6000 training samples"), table);
        LabeledImages t = PartitionStore.readTest(CONF, hadoop(out.resolve("_test")));
        assertEquals(10_000, t.size());
        assertArrayEquals(new long[]{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, t.labelHistogram());
        assertEquals(List.of(1, 28, 28), List.of(t.channels(), t.height(), t.width()));
    }

    @Test
    void prepareIsDeterministicForASeedAndHonoursTheSubset() {
        Prepare.Result a = Prepare.run(CONF, idxSpec(dir.resolve("a"), PrepareSpec.Scheme.DIRICHLET, 1.0, 300, false), null);
        Prepare.Result b = Prepare.run(CONF, idxSpec(dir.resolve("b"), PrepareSpec.Scheme.DIRICHLET, 1.0, 300, false), null);
        checkShares(a, 300);
        for (int i = 0; i < SITES.size(); i++) {
            assertArrayEquals(a.shares().get(i).labelHistogram(), b.shares().get(i).labelHistogram());
        }
        TestData.assertSameSamples(test, PartitionStore.readTest(CONF, hadoop(dir.resolve("a/test"))));
    }

    @Test
    void anExistingLocationIsRefusedWithoutOverwriteAndNothingIsWritten() throws IOException {
        Path out = dir.resolve("out");
        Files.createDirectories(out.resolve("umich"));
        DataException e = assertThrows(DataException.class,
                () -> Prepare.run(CONF, idxSpec(out, PrepareSpec.Scheme.IID, 0, 0, false), null));
        assertMessage(e, "umich", "exists already", "overwrite");
        assertEquals(List.of("umich"), tree(out));
        Prepare.Result r = Prepare.run(CONF, idxSpec(out, PrepareSpec.Scheme.IID, 0, 0, true), null);
        checkShares(r, 400);
    }

    @Test
    void anUnwritableLocationIsAClearErrorAndNothingIsWritten() throws IOException {
        Path out = dir.resolve("out");
        TestData.write(dir.resolve("blocker"), new byte[]{1});
        List<PrepareSpec.Target> targets = new ArrayList<>(targets(out));
        targets.set(2, new PrepareSpec.Target("umich", dir.resolve("blocker/umich").toString()));
        PrepareSpec spec = new PrepareSpec("synthetic", PrepareSpec.Format.IDX, idxSources("train", train),
                idxSources("test", test), 10, null, targets, PrepareSpec.Scheme.IID, 0, null, 1, 0,
                out.resolve("test").toString(), false);
        DataException e = assertThrows(DataException.class, () -> Prepare.run(CONF, spec, null));
        assertMessage(e, "umich", "blocker", "cannot be written", "nothing written");
        assertEquals(List.of(), tree(out));
    }

    @Test
    void nonPositiveAlphaIsAnErrorNamingTheKeyAndNothingIsWritten() throws IOException {
        Path out = dir.resolve("out");
        DataException e = assertThrows(DataException.class,
                () -> Prepare.run(CONF, idxSpec(out, PrepareSpec.Scheme.DIRICHLET, 0, 0, false), null));
        assertMessage(e, "partition.alpha", "got 0.0");
        assertEquals(List.of(), tree(out));
    }

    @Test
    void anInstituteLeftWithoutSamplesIsAnErrorNamingItAndNothingIsWritten() throws IOException {
        Path out = dir.resolve("out");
        DataException e = assertThrows(DataException.class,
                () -> Prepare.run(CONF, idxSpec(out, PrepareSpec.Scheme.IID, 0, 3, false), null));
        assertMessage(e, "'osu'", "no samples");
        assertEquals(List.of(), tree(out));
    }

    @Test
    void aCorruptSourceIsAnErrorNamingTheFileAndNothingIsWritten() throws IOException {
        Path out = dir.resolve("out");
        PrepareSpec good = idxSpec(out, PrepareSpec.Scheme.IID, 0, 0, false);
        Path labels = Path.of(good.train().get(1));
        byte[] gz = Files.readAllBytes(labels);
        Files.write(labels, Arrays.copyOf(gz, gz.length - 12));
        DataException e = assertThrows(DataException.class, () -> Prepare.run(CONF, good, null));
        assertMessage(e, "train-labels.gz", "truncated gzip");
        assertEquals(List.of(), tree(out));
    }

    @Test
    void specProblemsAreAllReportedWithTheirKeys() {
        PrepareSpec spec = new PrepareSpec("synthetic", PrepareSpec.Format.IDX, List.of(dir.resolve("only-one").toString()),
                List.of(), 300, null, List.of(new PrepareSpec.Target("osu", dir.resolve("x").toString()),
                new PrepareSpec.Target("osu", dir.resolve("x/y").toString())),
                PrepareSpec.Scheme.COLUMN, 0, null, 1, -1, dir.resolve("t").toString(), false);
        DataException e = assertThrows(DataException.class, () -> Prepare.run(CONF, spec, null));
        assertMessage(e, "data.train must be [images file, labels file]", "data.test", "data.classes",
                "data.partition.scheme = column needs a parquet source", "data.train-subset", "names 'osu' twice", "overlap");
    }

    @Test
    void aSubsetLargerThanTheSourceIsAnErrorNamingTheKey() {
        DataException e = assertThrows(DataException.class,
                () -> Prepare.run(CONF, idxSpec(dir.resolve("out"), PrepareSpec.Scheme.IID, 0, 401, false), null));
        assertMessage(e, "data.train-subset", "401", "400");
    }

    @Test
    void aParquetSourceIsSplitByItsInstituteColumn() throws IOException {
        String[] column = new String[train.size()];
        for (int i = 0; i < column.length; i++) {
            column[i] = SITES.get((i / 7) % SITES.size());
        }
        Path source = dir.resolve("source/part-00000.parquet");
        Files.createDirectories(source.getParent());
        ParquetImages.write(CONF, hadoop(source), train, ParquetImages.metadata(train, "synthetic", null), "site", column);
        Path testSource = dir.resolve("test-source.parquet");
        ParquetImages.write(CONF, hadoop(testSource), test, ParquetImages.metadata(test, "synthetic", null), null, null);
        Path out = dir.resolve("out");
        PrepareSpec spec = new PrepareSpec("synthetic", PrepareSpec.Format.PARQUET, List.of(dir.resolve("source").toString()),
                List.of(testSource.toString()), 0, null, targets(out), PrepareSpec.Scheme.COLUMN, 0, "site", 1, 0,
                out.resolve("test").toString(), false);
        Prepare.Result r = Prepare.run(CONF, spec, null);
        checkShares(r, train.size());
        for (Prepare.Share s : r.shares()) {
            LabeledImages d = PartitionStore.read(CONF, new org.apache.hadoop.fs.Path(s.location()), s.institute());
            for (long id : d.sampleIds()) {
                assertEquals(s.institute(), column[(int) id]);
            }
        }
        TestData.assertSameSamples(test, PartitionStore.readTest(CONF, hadoop(out.resolve("test"))));

        // Every share records the column it was split by (and no seed: nothing random shaped it), so train can
        // refuse an experiment naming another column.
        for (String location : List.of(r.shares().get(0).location(), out.resolve("test").toString())) {
            java.util.Map<String, String> recorded = PreparedKeys.read(CONF, new org.apache.hadoop.fs.Path(location));
            assertEquals(PreparedKeys.of(spec), recorded);
            assertEquals("\"site\"", recorded.get(PrepareSpec.KEY_COLUMN));
            assertTrue(!recorded.containsKey(PreparedKeys.KEY_SEED) && !recorded.containsKey(PrepareSpec.KEY_ALPHA), recorded.toString());
        }
        PrepareSpec byInstitute = new PrepareSpec(spec.dataset(), spec.format(), spec.train(), spec.test(), 0, null,
                spec.institutes(), PrepareSpec.Scheme.COLUMN, 0, "institute", 1, 0, spec.testLocation(), false);
        assertEquals(List.of(new PreparedKeys.Mismatch(PrepareSpec.KEY_COLUMN, "\"institute\"", "\"site\"")),
                PreparedKeys.compare(PreparedKeys.of(byInstitute),
                        PreparedKeys.read(CONF, new org.apache.hadoop.fs.Path(r.shares().get(0).location()))));
    }

    @Test
    void aCifarSourceIsSplitIid() {
        LabeledImages c = TestData.images(40, 3, 32, 32, 10, 9);
        Path f = TestData.write(dir.resolve("data_batch_1.bin"), TestData.cifar(c, CifarReader.Variant.CIFAR_10, 0));
        Path out = dir.resolve("out");
        PrepareSpec spec = new PrepareSpec("cifar10", PrepareSpec.Format.CIFAR, List.of(f.toString()), List.of(), 10, null,
                targets(out), PrepareSpec.Scheme.IID, 0, null, 1, 0, null, false);
        Prepare.Result r = Prepare.run(CONF, spec, null);
        checkShares(r, 40);
        r.shares().forEach(s -> assertEquals(10, s.samples()));
        assertEquals(null, r.test());
    }
}
