package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A SparkContext that stops during a run (what a task's OutOfMemoryError does in local mode) fails the round at once
 * and says so: rerunning it could only fail fault.round-attempts times over with "Cannot call methods on a stopped
 * SparkContext", and that last message used to be all the run reported.
 */
class StoppedSparkTest {
    @TempDir
    Path dir;

    @Test
    void aStoppedSparkContextFailsTheRoundWithoutRetries() throws Exception {
        String[] setup = {"institutes=[osu, iitb]", "data.train-subset=80", "data.partition.scheme=iid", "train.batch-size=20",
                "algorithm=fedavg", "train.rounds=3", Fixtures.smallTestSet(dir.resolve("test"), 100)};
        SparkSession spark = Fixtures.spark();
        try {
            Fixtures.prepare(Fixtures.experiment(dir, setup));
            FederatedTraining.RoundFailed failed = assertThrows(FederatedTraining.RoundFailed.class, () ->
                    FederatedTraining.run(Fixtures.experiment(dir, setup), spark, FederatedTraining.Start.OVERWRITE, r -> spark.stop()));
            assertTrue(failed.getMessage().startsWith("round 1 failed in 1 attempt(s)"), failed.getMessage());
            assertTrue(failed.getMessage().contains("the SparkContext stopped: "), failed.getMessage());
            List<String> events = Files.readAllLines(dir.resolve("out/events.csv"));
            assertEquals(2, events.size(), "one event: " + events);
            assertTrue(events.get(1).startsWith("1,,failed,the SparkContext stopped: "), events.get(1));
        } finally {
            spark.stop();
        }
    }
}
