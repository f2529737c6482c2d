package org.fslspark.runtime;

import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An attempt's jobs fail at once when an executor the round's tasks are pinned to is lost (rather than wait an hour,
 * the test-bed's locality wait, for it to come back), and so does any job the attempt starts afterwards; the loss of
 * an executor of a site the round does not use changes nothing. The losses are posted to the watch as Spark would
 * post them, on a local Spark whose jobs wait until cancelled.
 */
class ExecutorLossWatchTest {
    private static final String GROUP = "fsl-test-round-1";

    /** A job in the attempt's group whose one task waits up to 60 s, or until Spark cancels it. */
    private static Future<?> waitingJob(ExecutorService pool, JavaSparkContext jsc) {
        return pool.submit(() -> {
            jsc.setJobGroup(GROUP, "round 1", true);
            return jsc.parallelize(List.of(1), 1).map(x -> {
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (System.nanoTime() < end && !TaskContext.get().isInterrupted()) {
                    Thread.sleep(20);
                }
                return x;
            }).collect();
        });
    }

    private static void awaitActive(SparkContext sc) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (sc.statusTracker().getActiveJobIds().length == 0) {
            assertTrue(System.nanoTime() < deadline, "the job did not start");
            Thread.sleep(20);
        }
    }

    @Test
    void losingAPinnedExecutorCancelsTheAttemptsJobsAndThoseItStartsAfter() throws Exception {
        SparkSession spark = Fixtures.spark();
        ExecutorService pool = Executors.newCachedThreadPool();
        SparkContext sc = spark.sparkContext();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
        ExecutorLossWatch watch = ExecutorLossWatch.on(sc);
        try {
            SiteExecutors executors = SiteExecutors.of(List.of(
                    new SiteExecutors.Executor("7", "127.0.0.3", 1, "utaustin", "utaustin"),
                    new SiteExecutors.Executor("8", "127.0.0.4", 1, "umich", "umich")), Set.of("127.0.0.3:1", "127.0.0.4:1"));
            watch.arm(GROUP, executors, List.of("utaustin"), "osu");
            Future<?> job = waitingJob(pool, jsc);
            awaitActive(sc);
            // umich takes no part in the round: its executor's loss changes nothing.
            watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "8", "Command exited with code 137"));
            Thread.sleep(500);
            assertFalse(job.isDone());
            assertNull(watch.lost());

            long start = System.nanoTime();
            watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "7", "Command exited with code 137"));
            ExecutionException cancelled = assertThrows(ExecutionException.class, () -> job.get(30, TimeUnit.SECONDS));
            assertTrue(String.valueOf(cancelled.getCause().getMessage()).contains("cancelled"), cancelled.getCause().getMessage());
            assertTrue((System.nanoTime() - start) / 1e9 < 10, "cancelled after " + (System.nanoTime() - start) / 1e9 + " s");
            assertEquals("the executor of institute utaustin (executor 7) was lost (Command exited with code 137); the round's tasks were "
                    + "pinned to it", watch.lost());

            // A job the attempt starts after the loss (its next stage) is cancelled as it starts.
            assertThrows(ExecutionException.class, () -> waitingJob(pool, jsc).get(30, TimeUnit.SECONDS));

            assertEquals("the executor of institute utaustin (executor 7) was lost (Command exited with code 137); the round's tasks were "
                    + "pinned to it", watch.disarm());
            // Disarmed (the attempt is over): a loss cancels nothing.
            watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "7", "again"));
            Future<?> after = pool.submit(() -> {
                jsc.setJobGroup(GROUP, "round 2", true);
                return jsc.parallelize(List.of(1, 2), 2).map(x -> x + 1).collect();
            });
            assertEquals(List.of(2, 3), after.get(30, TimeUnit.SECONDS));
        } finally {
            watch.close();
            pool.shutdownNow();
            spark.stop();
        }
    }
}
