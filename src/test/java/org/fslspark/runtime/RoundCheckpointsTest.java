package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.config.Experiment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints whose executor parts the executors wrote (checkpoint.writer = executors): the driver moves the parts of the
 * attempt that counted into the checkpoint, copies older ones in, drops a failed attempt's, and says what to do when it
 * cannot find a part an executor wrote.
 */
class RoundCheckpointsTest {
    @TempDir
    Path dir;

    private final Configuration conf = new Configuration();

    private RoundCheckpoints checkpoints(int keep) {
        return new RoundCheckpoints(dir.toString(), conf, new Experiment.Checkpointing(1, keep, "executors"));
    }

    private static TrainingState after(int round, Map<String, HeldCopy> held) {
        return new TrainingState(round + 1, Nd4j.create(new float[]{1, 2}), Nd4j.create(new float[]{3}), null, false, 0, 0, 0, 0,
                held);
    }

    /** What an executor of {@code attempt} at round {@code t} writes ({@link HeldCopy#keep}). */
    private HeldCopy written(RoundCheckpoints c, int t, int attempt, String name, byte[] frame) throws Exception {
        return HeldCopy.write(c.partsDir(t, attempt), conf, Map.of(name, new HeldState.Frame(frame))).get(name);
    }

    @Test
    void partsOfTheAttemptThatCountedAreMovedInAndOlderOnesCopied() throws Exception {
        RoundCheckpoints c = checkpoints(1);
        c.begin(0);
        byte[] buffer = {1, 2, 3};
        byte[] learner = {4, 5};
        TrainingState first = c.write(after(0, Map.of("server/buffer/0", written(c, 0, 0, "server/buffer/0", buffer),
                "client/0/model", HeldCopy.of(learner))));
        HeldCopy moved = first.executors().get("server/buffer/0");
        assertTrue(moved.file().endsWith("state/round-0/executors/server/buffer/0.frame"), moved.file());
        assertArrayEquals(buffer, moved.frame(conf));
        assertArrayEquals(learner, first.executors().get("client/0/model").frame(conf), "an inline copy stays inline");

        // Round 1: a failed attempt 0 left a part; attempt 1 wrote the buffer again; the learner was not used (its copy
        // is round 0's file), and round 0's checkpoint is pruned (keep = 1) once round 1's is complete.
        c.begin(1);
        written(c, 1, 0, "server/buffer/0", new byte[]{9});
        byte[] newer = {6, 7, 8, 9};
        TrainingState second = c.write(after(1, Map.of("server/buffer/0", written(c, 1, 1, "server/buffer/0", newer),
                "server/shared", moved)));
        assertEquals(List.of("round-1"), List.of(dir.resolve("state").toFile().list()));
        assertArrayEquals(newer, second.executors().get("server/buffer/0").frame(conf));
        assertArrayEquals(buffer, second.executors().get("server/shared").frame(conf), "copied from round 0 before it was pruned");
        assertFalse(Files.exists(dir.resolve("state/round-1/attempt-0")), "the failed attempt's parts are dropped");
        TrainingState resumed = c.latest(m -> { });
        assertArrayEquals(newer, resumed.executors().get("server/buffer/0").frame(conf));
        assertArrayEquals(buffer, resumed.executors().get("server/shared").frame(conf));
    }

    @Test
    void aPartTheDriverCannotFindNamesTheWayOut() {
        RoundCheckpoints c = checkpoints(2);
        c.begin(0);
        HeldCopy elsewhere = new HeldCopy(null, c.partsDir(0, 0) + "/server/shared.frame", 10);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> c.write(after(0, Map.of("server/shared", elsewhere))));
        assertTrue(e.getMessage().contains("do not share that file system") && e.getMessage().contains("checkpoint.writer = driver"),
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("state/round-0/" + RoundCheckpoints.MARKER)), "no checkpoint is made of it");
    }

    @Test
    void aPartOfAnotherLengthThanWrittenIsRefused() throws Exception {
        RoundCheckpoints c = checkpoints(2);
        c.begin(0);
        HeldCopy part = written(c, 0, 0, "server/shared", new byte[]{1, 2, 3});
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> c.write(after(0, Map.of("server/shared", new HeldCopy(null, part.file(), 4)))));
        assertTrue(e.getMessage().contains("holds 3 bytes, not the 4"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> new HeldCopy(null, part.file(), 4).frame(conf));
    }
}
