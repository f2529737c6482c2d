package org.fslspark.runtime;

import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An attempt's jobs fail at once when an executor the round's tasks are pinned to is lost (rather than wait an hour,
 * the test-bed's locality wait, for it to come back), also when Spark posted the loss before the attempt began, and so
 * does any job the attempt starts afterwards; the loss of an executor of a site the round does not use changes
 * nothing. An attempt past its deadline is cancelled the same way. The losses are posted to the watch as Spark would
 * post them, on a local Spark whose jobs wait until cancelled.
 */
class AttemptWatchTest {
    private static final String GROUP = "fsl-test-round-1";

    /** A job in the attempt's group whose one task runs {@code seconds}, or until Spark cancels it; it returns [1]. */
    private static Future<List<Integer>> waitingJob(ExecutorService pool, JavaSparkContext jsc, int seconds) {
        return pool.submit(() -> {
            jsc.setJobGroup(GROUP, "round 1", true);
            return jsc.parallelize(List.of(1), 1).map(x -> {
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
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

    private SparkSession spark;
    private SparkContext sc;
    private JavaSparkContext jsc;
    private ExecutorService pool;
    private AttemptWatch watch;

    @BeforeEach
    void start() {
        spark = Fixtures.spark();
        sc = spark.sparkContext();
        jsc = JavaSparkContext.fromSparkContext(sc);
        pool = Executors.newCachedThreadPool();
        watch = AttemptWatch.on(sc);
    }

    @AfterEach
    void stop() {
        watch.close();
        pool.shutdownNow();
        spark.stop();
    }

    /** A job in the attempt's group that ends at once: [x + 1 for x in xs]. */
    private List<Integer> quickJob(String description, List<Integer> xs) throws Exception {
        return pool.submit(() -> {
            jsc.setJobGroup(GROUP, description, true);
            return jsc.parallelize(xs, xs.size()).map(x -> x + 1).collect();
        }).get(30, TimeUnit.SECONDS);
    }

    private static SiteExecutors utaustinAndUmich() {
        return SiteExecutors.of(List.of(
                new SiteExecutors.Executor("7", "127.0.0.3", 1, "utaustin", "utaustin"),
                new SiteExecutors.Executor("8", "127.0.0.4", 1, "umich", "umich")), Set.of("127.0.0.3:1", "127.0.0.4:1"));
    }

    @Test
    void losingAPinnedExecutorCancelsTheAttemptsJobsAndThoseItStartsAfter() throws Exception {
        SiteExecutors executors = utaustinAndUmich();
        watch.arm(GROUP, executors, List.of("utaustin"), "osu", 0);
        Future<?> job = waitingJob(pool, jsc, 60);
        awaitActive(sc);
        // umich takes no part in the round: its executor's loss changes nothing.
        watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "8", "Command exited with code 137"));
        assertNull(watch.lost());
        assertThrows(TimeoutException.class, () -> job.get(500, TimeUnit.MILLISECONDS), "the job still runs");

        long start = System.nanoTime();
        watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "7", "Command exited with code 137"));
        ExecutionException cancelled = assertThrows(ExecutionException.class, () -> job.get(30, TimeUnit.SECONDS));
        assertTrue(String.valueOf(cancelled.getCause().getMessage()).contains("cancelled"), cancelled.getCause().getMessage());
        assertTrue((System.nanoTime() - start) / 1e9 < 10, "cancelled after " + (System.nanoTime() - start) / 1e9 + " s");
        assertEquals("the executor of institute utaustin (executor 7) was lost (Command exited with code 137); the round's tasks were "
                + "pinned to it", watch.lost());

        // A job the attempt starts after the loss (its next stage) is cancelled as it starts.
        assertThrows(ExecutionException.class, () -> waitingJob(pool, jsc, 60).get(30, TimeUnit.SECONDS));

        assertEquals("the executor of institute utaustin (executor 7) was lost (Command exited with code 137); the round's tasks were "
                + "pinned to it", watch.disarm());
        // Disarmed (the attempt is over): a loss cancels nothing.
        watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "7", "again"));
        assertEquals(List.of(2, 3), quickJob("round 2", List.of(1, 2)));
    }

    /**
     * Spark may post an executor's removal between two attempts, while its executor list still shows it: the next
     * attempt, pinned to it, fails as its first job starts (it hung in the test-bed once, its stage waiting for slots and
     * then for the gone executor), and the driver's refresh of the sites' executors leaves it out.
     */
    @Test
    void anExecutorRemovedBeforeTheAttemptFailsItAsItStarts() throws Exception {
        watch.onExecutorRemoved(new SparkListenerExecutorRemoved(System.currentTimeMillis(), "7", "Command exited with code 137"));
        assertEquals(Set.of("7"), watch.removed());
        SiteExecutors refreshed = SiteExecutors.of(utaustinAndUmich().executors(), Set.of("127.0.0.3:1", "127.0.0.4:1"),
                watch.removed());
        assertFalse(refreshed.has("utaustin"));
        assertTrue(refreshed.has("umich"));

        watch.arm(GROUP, utaustinAndUmich(), List.of("utaustin", "umich"), "osu", 0);
        assertEquals("the executor of institute utaustin (executor 7) was lost (Command exited with code 137); the round's "
                + "tasks were pinned to it", watch.lost());
        assertThrows(ExecutionException.class, () -> waitingJob(pool, jsc, 60).get(30, TimeUnit.SECONDS));
        watch.disarm();
        // An attempt without the removed executor is not affected.
        watch.arm(GROUP, refreshed, List.of("umich"), "osu", 0);
        assertNull(watch.lost());
        assertEquals(List.of(2), quickJob("round 1", List.of(1)));
        assertNull(watch.disarm());
    }

    /** An attempt past its deadline has its jobs cancelled, naming fault.round-timeout; a disarmed deadline never fires. */
    @Test
    void anAttemptPastItsDeadlineIsCancelled() throws Exception {
        watch.arm(GROUP, SiteExecutors.NONE, List.of(), "osu", 1);
        long start = System.nanoTime();
        ExecutionException cancelled = assertThrows(ExecutionException.class, () -> waitingJob(pool, jsc, 60).get(30, TimeUnit.SECONDS));
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds > 0.9 && seconds < 20, "cancelled after " + seconds + " s");
        assertTrue(String.valueOf(cancelled.getCause().getMessage()).contains("cancelled"), cancelled.getCause().getMessage());
        assertEquals("the attempt did not finish within 1 s (fault.round-timeout); its Spark jobs were cancelled", watch.disarm());

        watch.arm(GROUP, SiteExecutors.NONE, List.of(), "osu", 1);
        assertNull(watch.disarm());
        // A job of the group running past the disarmed deadline completes.
        assertEquals(List.of(1), waitingJob(pool, jsc, 2).get(30, TimeUnit.SECONDS));
        assertNull(watch.lost());
    }
}
