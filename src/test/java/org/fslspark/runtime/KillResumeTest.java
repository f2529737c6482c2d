package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `bin/fsl train` killed with SIGKILL after round 2 of 5 and continued with `--resume` in a new process ends
 * as the uninterrupted run: rounds.csv but its time columns, traffic.csv and OUT/model, bitwise (SplitFed-V2 and
 * FSL-SAGE, client-by-client order). Whatever the kill cut off (a checkpoint being written, a rounds.csv being
 * replaced) the resume skips or redoes.
 */
@Tag("e2e")
class KillResumeTest {
    static SparkSession spark;
    @TempDir
    static Path dir;
    static String[] setup;
    static final int ROUNDS = 5;
    static final int KILL_AFTER = 2;

    @BeforeAll
    static void start() throws Exception {
        setup = new String[]{"institutes=[osu, iitb]", "data.train-subset=120", "data.partition.scheme=iid",
                "train.batch-size=20", "train.server-order=client-by-client", "server-interval=2", "alignment.interval=2",
                "alignment.epochs=3", "train.rounds=" + ROUNDS, Fixtures.smallTestSet(dir.resolve("test"), 200)};
        assertTrue(new File("target/runtime-classpath.txt").isFile() && new File("target/classes").isDirectory(),
                "bin/fsl would rebuild: run the tests through Maven");
        spark = Fixtures.spark();
        Fixtures.prepare(Fixtures.experiment(dir, setup));
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** `bin/fsl train` of the experiment (conf/quickstart.conf with the test's keys, as Fixtures sets them). */
    private static Process fsl(String algorithm, Path out, Path log, String... flags) throws Exception {
        List<String> command = new ArrayList<>(List.of("bin/fsl", "train", "conf/quickstart.conf", "--master", "local[5]",
                "--out", out.toString()));
        List<String> keys = new ArrayList<>(List.of("data.location=\"" + dir.resolve("data") + "\"", "train.eval-batch-size=500",
                "algorithm=" + algorithm));
        keys.addAll(List.of(setup));
        for (String k : keys) {
            command.add("--set");
            command.add(k);
        }
        command.addAll(List.of(flags));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    private static void killedAndResumedEqualsUninterrupted(String algorithm) throws Exception {
        Path full = dir.resolve(algorithm + "-full");
        Path part = dir.resolve(algorithm + "-killed");
        // The uninterrupted run goes on beside the killed one and its resumption (separate JVMs, separate outputs).
        Process p = fsl(algorithm, full, dir.resolve(algorithm + "-full.log"));
        Process killed = fsl(algorithm, part, dir.resolve(algorithm + "-killed.log"));
        Process resumed = null;
        try {
            Path marker = part.resolve("state/round-" + (KILL_AFTER - 1) + "/" + RoundCheckpoints.MARKER);
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (!Files.exists(marker) && killed.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(killed.isAlive(), "the run ended before it was killed:\n" + Files.readString(dir.resolve(algorithm + "-killed.log")));
            killed.destroyForcibly(); // SIGKILL to the JVM bin/fsl exec'd: no shutdown hook runs
            assertTrue(killed.waitFor(1, TimeUnit.MINUTES));
            assertFalse(Files.exists(part.resolve("model")), "killed before its end");
            resumed = fsl(algorithm, part, dir.resolve(algorithm + "-resumed.log"), "--resume");
            assertTrue(p.waitFor(10, TimeUnit.MINUTES) && p.exitValue() == 0, Files.readString(dir.resolve(algorithm + "-full.log")));
            assertTrue(resumed.waitFor(10, TimeUnit.MINUTES) && resumed.exitValue() == 0,
                    Files.readString(dir.resolve(algorithm + "-resumed.log")));
        } finally {
            p.destroyForcibly();
            killed.destroyForcibly();
            if (resumed != null) {
                resumed.destroyForcibly();
            }
        }
        assertEquals(ROUNDS + 1, Files.readAllLines(part.resolve("rounds.csv")).size(), "header and every round once");
        assertEquals(FaultToleranceTest.rowsWithoutTimes(full.resolve("rounds.csv")),
                FaultToleranceTest.rowsWithoutTimes(part.resolve("rounds.csv")));
        assertEquals(Files.readAllLines(full.resolve("traffic.csv")), Files.readAllLines(part.resolve("traffic.csv")));
        assertArrayEquals(Files.readAllBytes(full.resolve("model/params.f32")), Files.readAllBytes(part.resolve("model/params.f32")));
    }

    @Test
    void splitFedV2KilledAndResumedEqualsUninterrupted() throws Exception {
        killedAndResumedEqualsUninterrupted("splitfed-v2");
    }

    @Test
    void fslSageKilledAndResumedEqualsUninterrupted() throws Exception {
        killedAndResumedEqualsUninterrupted("fsl-sage");
    }
}
