package org.fslspark.runtime;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;

import java.util.Collection;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fails a round attempt at once when an executor its stages are pinned to is lost, or when it runs past its deadline
 * (fault.round-timeout), by cancelling the attempt's job group, and any job it starts afterwards; the driver then reruns
 * the round from its copy.
 *
 * <p>A round's tasks prefer the very executors found when the attempt started ({@link SiteExecutors#pin}) and wait for
 * them up to the test-bed's locality wait (an hour): a task still to run on a lost executor (a stage submitted after the
 * loss, or a map task Spark resubmits because its output died with the executor) would wait that hour for an executor
 * that never comes back, and would be refused anyway once it ran as a retry ({@link FaultHook#requireFirstTry}). Spark
 * posts an executor's removal to listeners asynchronously, possibly between two attempts, when it lists the executor
 * still: so every removal is remembered, an attempt pinned to a removed executor fails as it starts, and
 * {@link #removed} lets the driver leave such executors out. The deadline is the backstop for whatever else makes a
 * stage neither run nor fail.
 */
final class AttemptWatch extends SparkListener {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fsl-attempt-deadline");
        t.setDaemon(true);
        return t;
    });

    private final SparkContext sc;
    /** Every executor removed since the watch started, with why (Spark never reuses an executor id). */
    private final Map<String, String> removed = new ConcurrentHashMap<>();
    /** The armed attempt's job group; null when no attempt runs. */
    private volatile String group;
    /** The attempt's pinned executors by id, with who they serve ("institute umich", "server site osu"). */
    private volatile Map<String, String> pinned = Map.of();
    private volatile String lost;
    private ScheduledFuture<?> deadline;

    private AttemptWatch(SparkContext sc) {
        this.sc = sc;
    }

    /** A watch on {@code sc}'s executors, registered as a listener; {@link #close} removes it. */
    static AttemptWatch on(SparkContext sc) {
        AttemptWatch w = new AttemptWatch(sc);
        sc.addSparkListener(w);
        return w;
    }

    /**
     * Watches the attempt whose jobs run in {@code jobGroup} with their tasks pinned to the executors of the
     * {@code institutes} and the {@code serverSite} (none are pinned in local mode), for at most {@code seconds}
     * (0 = no deadline).
     */
    void arm(String jobGroup, SiteExecutors executors, Collection<String> institutes, String serverSite, double seconds) {
        lost = null;
        Map<String, String> ids = new HashMap<>();
        for (SiteExecutors.Executor x : executors.executors()) {
            if (institutes.contains(x.site())) {
                ids.put(x.id(), "institute " + x.site());
            } else if (serverSite.equals(x.site())) {
                ids.put(x.id(), "server site " + x.site());
            }
        }
        pinned = Map.copyOf(ids);
        group = jobGroup;
        // A removal posted before the attempt was armed: its jobs are cancelled as they start.
        ids.keySet().stream().filter(removed::containsKey).findFirst().ifPresent(id -> lost = loss(id, removed.get(id)));
        if (seconds > 0) {
            deadline = TIMER.schedule(() -> {
                if (jobGroup.equals(group) && lost == null) {
                    lost = String.format(Locale.ROOT, "the attempt did not finish within %.0f s (fault.round-timeout); "
                            + "its Spark jobs were cancelled", seconds);
                    sc.cancelJobGroup(jobGroup);
                }
            }, Math.round(seconds * 1000), TimeUnit.MILLISECONDS);
        }
    }

    /** Stops watching; returns what failed the attempt (null: nothing). */
    String disarm() {
        group = null;
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
        String why = lost;
        lost = null;
        return why;
    }

    /** What failed the armed attempt so far, or null. */
    String lost() {
        return lost;
    }

    /** The ids of the executors removed since the watch started. */
    Set<String> removed() {
        return Set.copyOf(removed.keySet());
    }

    private String loss(String id, String reason) {
        return "the executor of " + pinned.get(id) + " (executor " + id + ") was lost (" + reason
                + "); the round's tasks were pinned to it";
    }

    @Override
    public void onExecutorRemoved(SparkListenerExecutorRemoved removal) {
        String id = removal.executorId();
        removed.put(id, String.valueOf(removal.reason()));
        String g = group;
        if (g != null && pinned.containsKey(id)) {
            lost = loss(id, removal.reason());
            sc.cancelJobGroup(g);
        }
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        String g = group;
        if (g != null && lost != null && start.properties() != null
                && g.equals(start.properties().getProperty("spark.jobGroup.id"))) {
            sc.cancelJob(start.jobId());
        }
    }

    void close() {
        disarm();
        sc.removeSparkListener(this);
    }
}
