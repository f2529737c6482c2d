package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.ConfigException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A run interrupted after round 1 and resumed in a new SparkSession (a new run id: nothing of the first
 * run is left in executor memory) ends exactly as the uninterrupted run: every rounds.csv column but the
 * times, traffic.csv and the final model, bitwise. The resumed rounds need the restored optimizer state
 * (Adam's moments), and for FSL-SAGE the server's alignment buffers and auxiliary learners: alignment
 * runs at rounds 1 and 2, either side of the resume point.
 */
class ResumeTest {
    static SparkSession spark;
    @TempDir
    static Path dir;
    static String[] SETUP;

    @BeforeAll
    static void start() throws Exception {
        // A 200-image test set: every round is evaluated, and the full 10,000 would be most of this test's time.
        SETUP = new String[]{"institutes=[osu, iitb]", "data.train-subset=200", "data.partition.scheme=iid",
                "train.batch-size=32", "train.server-order=client-by-client", "server-interval=2", "alignment.interval=2",
                "alignment.epochs=5", Fixtures.smallTestSet(dir.resolve("test"), 200)};
        spark = Fixtures.spark();
        Fixtures.prepare(Fixtures.experiment(dir, SETUP));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static FederatedTraining.Summary train(String algorithm, Path out, int rounds, FederatedTraining.Start start,
                                                   String... more) {
        List<String> overrides = new ArrayList<>(List.of(SETUP));
        overrides.addAll(List.of("algorithm=" + algorithm, "train.rounds=" + rounds, "output=\"" + out + "\""));
        overrides.addAll(List.of(more));
        return FederatedTraining.run(Fixtures.experiment(dir, overrides.toArray(String[]::new)), spark, start, r -> { });
    }

    /** A new application: the resumed run must rebuild everything executors held from the checkpoint. */
    private static void restartSpark() {
        spark.stop();
        spark = Fixtures.spark();
    }

    private static List<String> withoutLastColumn(Path csv) throws Exception {
        return Files.readAllLines(csv).stream().map(l -> l.substring(0, l.lastIndexOf(','))).toList();
    }

    private static void assertSameRun(Path expected, FederatedTraining.Summary full, Path actual,
                                      FederatedTraining.Summary resumed) throws Exception {
        assertEquals(5, Files.readAllLines(actual.resolve("rounds.csv")).size(), "header and rounds 0..3");
        assertEquals(FaultToleranceTest.rowsWithoutTimes(expected.resolve("rounds.csv")),
                FaultToleranceTest.rowsWithoutTimes(actual.resolve("rounds.csv")));
        assertEquals(Files.readAllLines(expected.resolve("traffic.csv")), Files.readAllLines(actual.resolve("traffic.csv")));
        assertArrayEquals(full.clientParams().toFloatVector(), resumed.clientParams().toFloatVector());
        assertArrayEquals(full.serverParams().toFloatVector(), resumed.serverParams().toFloatVector());
        assertArrayEquals(Files.readAllBytes(expected.resolve("model/params.f32")), Files.readAllBytes(actual.resolve("model/params.f32")));
        assertEquals(4, resumed.rounds().size());
    }

    /** Every file of a checkpoint but state.properties (whose comment holds the time it was written), with its bytes. */
    private static java.util.Map<String, String> files(Path checkpoint) throws Exception {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        try (var walk = Files.walk(checkpoint)) {
            for (Path f : walk.filter(Files::isRegularFile).toList()) {
                String name = checkpoint.relativize(f).toString();
                if (!name.endsWith(".crc") && !name.equals("state.properties")) {
                    out.put(name, java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                            .digest(Files.readAllBytes(f))));
                }
            }
        }
        return out;
    }

    @Test
    void fslSageResumedEqualsUninterrupted() throws Exception {
        Path full = dir.resolve("sage-full");
        Path part = dir.resolve("sage-part");
        // The executors write their parts of the uninterrupted run's checkpoints, the driver those of the interrupted one.
        FederatedTraining.Summary uninterrupted = train("fsl-sage", full, 4, FederatedTraining.Start.OVERWRITE,
                "checkpoint.writer=executors", "checkpoint.keep=4");
        train("fsl-sage", part, 2, FederatedTraining.Start.OVERWRITE, "checkpoint.writer=driver");
        assertTrue(Files.exists(part.resolve("state/round-1/" + RoundCheckpoints.MARKER)));
        assertTrue(Files.exists(part.resolve("state/round-1/executors/server/buffer/1.frame")), "buffers are saved");
        assertEquals(files(full.resolve("state/round-1")), files(part.resolve("state/round-1")), "both writers write the same state");
        restartSpark();
        // A key that changes what is trained is refused, by name, before anything is touched.
        ConfigException refused = assertThrows(ConfigException.class,
                () -> train("fsl-sage", part, 4, FederatedTraining.Start.RESUME, "alignment.epochs=6"));
        assertTrue(refused.getMessage().contains("alignment.epochs"), refused.getMessage());
        FederatedTraining.Summary resumed = train("fsl-sage", part, 4, FederatedTraining.Start.RESUME);
        assertEquals(List.of(2, 3), resumed.tasks().stream().map(FederatedTraining.TaskRun::round).distinct().sorted().toList());
        assertTrue(Files.readAllLines(part.resolve("alignment.csv")).stream().anyMatch(l -> l.contains(",2,")),
                "alignment after the resume point");
        // Every alignment's figures but its seconds (the last column) are those of the uninterrupted run.
        assertEquals(withoutLastColumn(full.resolve("alignment.csv")), withoutLastColumn(part.resolve("alignment.csv")));
        assertSameRun(full, uninterrupted, part, resumed);
    }

    /**
     * Also: the newest checkpoint without its marker is skipped, so the resumed run redoes round 1 from round 0's state;
     * and a run saved before the codec keys existed (no transport.* in its saved config) resumes, in float32.
     */
    @Test
    void splitFedV2ResumedEqualsUninterruptedAndSkipsAnIncompleteCheckpoint() throws Exception {
        Path full = dir.resolve("v2-full");
        Path part = dir.resolve("v2-part");
        FederatedTraining.Summary uninterrupted = train("splitfed-v2", full, 4, FederatedTraining.Start.OVERWRITE);
        train("splitfed-v2", part, 2, FederatedTraining.Start.OVERWRITE);
        Files.delete(part.resolve("state/round-1/" + RoundCheckpoints.MARKER));
        Path config = part.resolve("config");
        Files.writeString(config, com.typesafe.config.ConfigFactory.parseString(Files.readString(config)).withoutPath("transport")
                .root().render(com.typesafe.config.ConfigRenderOptions.defaults().setOriginComments(false).setJson(false)));
        Files.deleteIfExists(part.resolve(".config.crc")); // the local file system's checksum of the file as written
        assertTrue(!Files.readString(config).contains("codec"), "the saved config has no transport keys");
        restartSpark();
        FederatedTraining.Summary resumed = train("splitfed-v2", part, 4, FederatedTraining.Start.RESUME);
        assertEquals(List.of(1, 2, 3), resumed.tasks().stream().map(FederatedTraining.TaskRun::round).distinct().sorted().toList());
        assertSameRun(full, uninterrupted, part, resumed);
        // checkpoint.keep = 2: only the newest two remain, both complete.
        assertEquals(List.of("round-2", "round-3"), Arrays.stream(part.resolve("state").toFile().list()).sorted().toList());
        assertTrue(Files.exists(part.resolve("state/round-3/" + RoundCheckpoints.MARKER)));
    }
}
